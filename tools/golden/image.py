#!/usr/bin/env python3
"""Golden fixtures for companion/image (never needed at run time).

Writes test/fixtures/image/image_goldens.safetensors + image_goldens.json:
  * pil.*   Pillow `Image.resize(size, filter)` on seeded random / gradient images (up, down, odd,
            one-axis, extreme aspect, exact 2x) — for companion/image/pil-resize.ts;
  * cv2.*   OpenCV `cv2.resize(img, (w, h))` (INTER_LINEAR, the official StyleStudio CLI's 512² squash)
            on small images, including the exact-2x case OpenCV routes to INTER_AREA;
  * the JSON records sha256 of PIL's decode of style.png / neg_style.png, of PIL's shortest-side-224
            bicubic resize, of the cv2 512² squash and of the CLIP pixel_values of the squashed image
            (too big to store; the tests hash their own output);
  * post.*  diffusers VaeImageProcessor.postprocess + numpy_to_pil on seeded floats (with exact .5 ties);
  * pre.*   VaeImageProcessor.preprocess of a small PNG written here.

Run with the project venv:  /work/venv/bin/python tools/golden/image.py
OpenCV is not in the venv: install it aside, e.g.
  /work/venv/bin/pip install --target /tmp/cv2pkgs --no-deps "opencv-python-headless<5"
and set CV2_PATH=/tmp/cv2pkgs (the default).
"""
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import PIL
import torch
from PIL import Image
from safetensors.numpy import save_file

sys.path.append(os.environ.get("CV2_PATH", "/tmp/cv2pkgs"))
import cv2  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "test" / "fixtures" / "golden"
OUT = ROOT / "test" / "fixtures" / "image"
FILTERS = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR, "lanczos": Image.LANCZOS, "box": Image.BOX}


def sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def source(rng: np.random.Generator, w: int, h: int, c: int, kind: str) -> np.ndarray:
    if kind == "noise":  # worst case: every edge overshoots, exercises clipping
        return rng.integers(0, 256, size=(h, w, c), dtype=np.uint8)
    # smooth gradient + mild noise: the typical photo case
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([(xx / max(w - 1, 1)) * 255, (yy / max(h - 1, 1)) * 255, ((xx + yy) % 37) * 7], -1)[..., :c]
    return np.clip(base + rng.normal(0, 8, size=base.shape), 0, 255).astype(np.uint8)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20260)
    tensors: dict[str, np.ndarray] = {}
    cases = []

    # --- Pillow resize ---------------------------------------------------------------------------
    pil_cases = [  # (name, w, h, c, kind, out_w, out_h, filter)
        ("down_odd", 37, 23, 3, "noise", 11, 7, "bicubic"),
        ("up", 23, 37, 3, "noise", 64, 50, "bicubic"),
        ("vertical_only", 50, 40, 3, "smooth", 50, 17, "bicubic"),
        ("horizontal_only", 50, 40, 3, "smooth", 13, 40, "bicubic"),
        ("down_fraction", 96, 80, 3, "smooth", 41, 29, "bicubic"),
        ("up_square", 17, 9, 3, "noise", 40, 40, "bicubic"),
        ("extreme_aspect", 200, 7, 3, "noise", 31, 3, "bicubic"),
        ("exact_half", 64, 64, 3, "smooth", 32, 32, "bicubic"),
        ("tiny", 1, 5, 3, "noise", 3, 9, "bicubic"),
        ("mixed", 120, 33, 3, "smooth", 35, 70, "bicubic"),
        ("clip_short_side", 90, 70, 3, "smooth", 80, 62, "bicubic"),
        ("grey", 45, 31, 1, "noise", 19, 44, "bicubic"),
        ("bilinear_down", 61, 47, 3, "noise", 17, 20, "bilinear"),
        ("lanczos_mixed", 40, 30, 3, "noise", 50, 21, "lanczos"),
        ("box_down", 33, 33, 3, "noise", 10, 12, "box"),
        # Pillow 13 runs the vertical pass first when height shrinks by > 2x the pixels width does
        ("tall_vertical_first", 40, 120, 3, "noise", 35, 30, "bicubic"),
        ("lanczos_vertical_first", 40, 30, 3, "noise", 70, 11, "lanczos"),
        ("boundary_horizontal_first", 60, 60, 3, "noise", 40, 20, "bicubic"),  # dy == 2·dx: still H first
    ]
    for name, w, h, c, kind, ow, oh, filt in pil_cases:
        src = source(rng, w, h, c, kind)
        im = Image.fromarray(src[..., 0] if c == 1 else src, "L" if c == 1 else "RGB")
        dst = np.array(im.resize((ow, oh), FILTERS[filt]))
        dst = dst.reshape(oh, ow, c)
        # Pillow <= 12 order: horizontal pass, then vertical (single-axis resizes are single passes)
        hfirst = np.array(im.resize((ow, h), FILTERS[filt]).resize((ow, oh), FILTERS[filt])).reshape(oh, ow, c)
        if not np.array_equal(hfirst, dst):
            tensors[f"pil.{name}.dst_hfirst"] = hfirst
        tensors[f"pil.{name}.src"] = src
        tensors[f"pil.{name}.dst"] = dst
        cases.append({"kind": "pil", "name": name, "filter": filt, "in_wh": [w, h], "out_wh": [ow, oh], "channels": c})

    # --- OpenCV INTER_LINEAR (official CLI squash) -----------------------------------------------
    cv_cases = [  # (name, w, h, kind, out_w, out_h)
        ("up", 23, 17, "noise", 64, 64),
        ("down", 90, 70, "smooth", 32, 32),
        ("down_noise", 77, 51, "noise", 24, 24),
        ("exact_half_area", 64, 48, "noise", 32, 24),
        ("mixed", 40, 100, "noise", 64, 64),
        ("wide_rows", 30, 20, "noise", 101, 13),
        ("narrow_rows", 20, 20, "noise", 3, 7),  # 9 bytes per row: shorter than one SIMD register
        ("rows_15", 21, 19, "noise", 5, 9),
        ("rows_27", 19, 23, "noise", 9, 30),
    ]
    for name, w, h, kind, ow, oh in cv_cases:
        src = source(rng, w, h, 3, kind)
        dst = cv2.resize(src, (ow, oh))
        tensors[f"cv2.{name}.src"] = src
        tensors[f"cv2.{name}.dst"] = dst
        cases.append({"kind": "cv2", "name": name, "in_wh": [w, h], "out_wh": [ow, oh], "channels": 3})

    # --- the golden style images -----------------------------------------------------------------
    from transformers import CLIPImageProcessor

    proc = CLIPImageProcessor()  # what StyleStudio's scripts construct (defaults = the pipeline's config)
    styles = {}
    for png in ("style.png", "neg_style.png"):
        rgb = np.array(Image.open(GOLDEN / png).convert("RGB"))
        h, w = rgb.shape[:2]
        short, long = min(w, h), max(w, h)
        new_long = int(224 * long / short)
        nw, nh = (224, new_long) if w <= h else (new_long, 224)
        resized = np.array(Image.fromarray(rgb).resize((nw, nh), Image.BICUBIC))
        # official CLI: cv2.resize(cv2.imread(p), (512, 512)) -> BGR->RGB -> PIL -> CLIPImageProcessor()
        bgr = cv2.imread(str(GOLDEN / png))
        squash = cv2.cvtColor(cv2.resize(bgr, (512, 512)), cv2.COLOR_BGR2RGB)
        pv = proc(images=Image.fromarray(squash), return_tensors="np").pixel_values.astype(np.float32)
        tensors[f"square512.{png}.pixel_values_corner"] = pv[0, :, :8, :8].copy()
        styles[png] = {
            "size_wh": [w, h],
            "decoded_rgb_sha256": sha(rgb),
            "clip_resize_wh": [nw, nh],
            "clip_resize_sha256": sha(resized),
            "square512_rgb_sha256": sha(squash),
            "square512_pixel_values_sha256": sha(pv),
        }

    # --- diffusers VaeImageProcessor -------------------------------------------------------------
    from diffusers.image_processor import VaeImageProcessor

    vp = VaeImageProcessor(vae_scale_factor=8)
    g = torch.Generator("cpu").manual_seed(4242)
    x = torch.randn((1, 3, 16, 24), generator=g) * 0.8
    # exact ties of (x/2+0.5)*255 at k+0.5, and the clamp limits
    ties = torch.tensor([(2 * ((k + 0.5) / 255) - 1) for k in range(0, 255, 17)], dtype=torch.float32)
    x.view(-1)[: ties.numel()] = ties
    x.view(-1)[ties.numel():ties.numel() + 4] = torch.tensor([-1.0, 1.0, -1.7, 2.3])
    np_img = vp.postprocess(x, output_type="np")
    pil_img = np.array(vp.postprocess(x, output_type="pil")[0])
    tensors["post.sample"] = x.numpy()
    tensors["post.np"] = np_img
    tensors["post.uint8"] = pil_img

    pre_src = source(rng, 24, 16, 3, "noise")
    Image.fromarray(pre_src).save(OUT / "vae_pre.png")
    pre = vp.preprocess(Image.open(OUT / "vae_pre.png"))
    tensors["pre.image"] = pre.numpy().astype(np.float32)

    # permuted torch/numpy views are not C-contiguous; safetensors would store their memory order
    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    save_file(tensors, str(OUT / "image_goldens.safetensors"), metadata={"tool": "tools/golden/image.py"})
    meta = {
        "tool": "tools/golden/image.py",
        "versions": {"pillow": PIL.__version__, "opencv": cv2.__version__, "numpy": np.__version__,
                     "torch": torch.__version__},
        "cases": cases,
        "styles": styles,
        "clip_processor": {"size": dict(proc.size), "crop_size": dict(proc.crop_size), "resample": int(proc.resample),
                           "image_mean": list(proc.image_mean), "image_std": list(proc.image_std),
                           "rescale_factor": proc.rescale_factor},
    }
    (OUT / "image_goldens.json").write_text(json.dumps(meta, indent=1) + "\n")
    print("wrote", OUT, sum(t.nbytes for t in tensors.values()), "bytes of tensors")


if __name__ == "__main__":
    main()
