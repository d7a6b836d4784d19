"""Writes tools/realshape/manifests/: the exact tensor list of every safetensors file of the default model set.

Each model is built from its real config (tools/realshape/configs/) on the meta device (no memory, no weights)
with the pinned diffusers / transformers of requirements.txt, and its state dict becomes one manifest:

  manifests/<owner>--<name>/<path in repo>.json.gz
  {"repo": ..., "file": ..., "class": ..., "versions": {...}, "tensors": [[key, shape, dtype], ...]}

Tensors are listed in the order the safetensors library lays them out in the file (found by serialising
one-element stand-ins with safetensors itself), dtypes as safetensors names them (F16, F32, I64).
The CSGO adapter (.bin) needs no manifest: configs/csgo_4_32.structure.json describes it.

Run:  python tools/realshape/manifests.py        (from the repository root; rewrites the manifests)
"""
from __future__ import annotations

import gzip
import json
import struct
import sys
from pathlib import Path

import diffusers
import safetensors
import safetensors.torch
import torch
import transformers

HERE = Path(__file__).resolve().parent
CONFIGS = HERE / "configs"
OUT = HERE / "manifests"

SDXL = "stabilityai/stable-diffusion-xl-base-1.0"
VAE_FIX = "madebyollin/sdxl-vae-fp16-fix"
IP = "h94/IP-Adapter"

ST_NAMES = {torch.float16: "F16", torch.float32: "F32", torch.int64: "I64"}


def load_config(repo: str, path: str) -> dict:
    return json.loads((CONFIGS / repo.replace("/", "--") / path).read_text())


def meta_state_dict(build) -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        model = build()
    return model.state_dict()


def diffusers_model(cls, repo: str, path: str):
    return lambda: cls.from_config(load_config(repo, path))


def transformers_model(model_cls, config_cls, repo: str, path: str):
    cfg = load_config(repo, path)
    return lambda: model_cls(config_cls.from_dict(cfg))


def file_order(tensors: dict[str, tuple[list[int], torch.dtype]]) -> list[str]:
    """Keys in the order safetensors writes them: serialise one-element tensors of the same dtypes, read offsets."""
    standins = {k: torch.zeros(1, dtype=dt) for k, (_, dt) in tensors.items()}
    raw = safetensors.torch.save(standins)
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    header.pop("__metadata__", None)
    return sorted(header, key=lambda k: header[k]["data_offsets"][0])


def manifest(repo: str, file: str, cls: str, state: dict[str, torch.Tensor], float_dtype: torch.dtype,
             prefix: str, extra: dict[str, tuple[list[int], torch.dtype]] | None) -> dict:
    tensors: dict[str, tuple[list[int], torch.dtype]] = {}
    for key, t in state.items():
        dt = float_dtype if t.dtype.is_floating_point else t.dtype
        tensors[prefix + key] = (list(t.shape), dt)
    for key, v in (extra or {}).items():
        if key in tensors:
            raise SystemExit(f"{repo}/{file}: {key} is already in the state dict")
        tensors[key] = v
    order = file_order(tensors)
    return {
        "repo": repo,
        "file": file,
        "class": cls,
        "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__,
                     "transformers": transformers.__version__, "safetensors": safetensors.__version__},
        "tensors": [[k, tensors[k][0], ST_NAMES[tensors[k][1]]] for k in order],
    }


def main() -> int:
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import (CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPVisionConfig,
                              CLIPVisionModelWithProjection)

    vision_cfg = load_config(IP, "sdxl_models/image_encoder/config.json")
    positions = (vision_cfg["image_size"] // vision_cfg["patch_size"]) ** 2 + 1
    # (repo, file, class, builder, dtype of floating tensors, key prefix, extra tensors)
    jobs = [
        (SDXL, "unet/diffusion_pytorch_model.fp16.safetensors", "UNet2DConditionModel",
         diffusers_model(UNet2DConditionModel, SDXL, "unet/config.json"), torch.float16, "", None),
        # The published file was saved by transformers 4.32, whose CLIPTextModel held a CLIPTextTransformer as
        # `text_model`; transformers 5's CLIPTextModel is that transformer itself (it loads both forms).
        (SDXL, "text_encoder/model.fp16.safetensors", "CLIPTextModel",
         transformers_model(CLIPTextModel, CLIPTextConfig, SDXL, "text_encoder/config.json"), torch.float16,
         "text_model.", None),
        (SDXL, "text_encoder_2/model.fp16.safetensors", "CLIPTextModelWithProjection",
         transformers_model(CLIPTextModelWithProjection, CLIPTextConfig, SDXL, "text_encoder_2/config.json"),
         torch.float16, "", None),
        (VAE_FIX, "diffusion_pytorch_model.safetensors", "AutoencoderKL",
         diffusers_model(AutoencoderKL, VAE_FIX, "config.json"), torch.float32, "", None),
        # Saved by transformers 4.28, before position_ids became a non-persistent buffer (configs/SOURCES.md).
        (IP, "sdxl_models/image_encoder/model.safetensors", "CLIPVisionModelWithProjection",
         transformers_model(CLIPVisionModelWithProjection, CLIPVisionConfig, IP, "sdxl_models/image_encoder/config.json"),
         torch.float16, "", {"vision_model.embeddings.position_ids": ([1, positions], torch.int64)}),
    ]
    for repo, file, cls, build, float_dtype, prefix, extra in jobs:
        m = manifest(repo, file, cls, meta_state_dict(build), float_dtype, prefix, extra)
        out = OUT / repo.replace("/", "--") / f"{file}.json.gz"
        out.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(m, separators=(",", ":")).encode()
        out.write_bytes(gzip.compress(text, compresslevel=9, mtime=0))  # mtime 0: same bytes on every run
        params = sum(_numel(s) for _, s, _ in m["tensors"])
        print(f"{out.relative_to(HERE)}: {len(m['tensors'])} tensors, {params:,} elements")
    return 0


def _numel(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


if __name__ == "__main__":
    sys.exit(main())
