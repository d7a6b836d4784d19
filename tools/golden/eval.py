"""Fixtures and goldens for `stylestudio eval` / `sweep` (companion/eval/).

Run with the reference venv:  .venv/bin/python tools/golden/eval.py
Never needed at run time. Reads test/fixtures/sdxl-tiny (its text_encoder_2 and tokenizer_2) and writes only under
test/fixtures/eval/:

- image_encoder/: a tiny random CLIPVisionModelWithProjection whose projection_dim (48) equals the tiny
  text_encoder_2's, so the two form the pair of towers the scores need (the tiny IP-Adapter encoder projects to 32);
  every size differs from every other (hidden 40, mlp 72, 3 layers, 2 heads, patch 32 at 224 → 7×7 tokens).
- images/: six small synthetic PNGs (four "generated" images of different sizes and aspect ratios, two style
  references), drawn with numpy so the script needs no data.
- csd/checkpoint.pth: a tiny random model of the CSD architecture (Somepalli et al. 2024, learn2phoenix/CSD
  CSD/model.py CSD_CLIP): OpenAI CLIP's VisionTransformer with `proj` removed, then `feature @ last_layer_style`
  (and `last_layer_content`), saved as the authors' trainer does ({"model_state_dict": {"module." + key: tensor}}),
  and the same tensors with bare keys as csd/csd.safetensors.
  The reference network below is written from OpenAI CLIP's model.py (VisionTransformer, ResidualAttentionBlock:
  nn.MultiheadAttention, QuickGELU, pre-LN) with torch modules; open_clip's VisionTransformer uses the same keys.
- eval.safetensors + eval.json: transformers' CLIPTextModelWithProjection text_embeds for the prompts (tokenized by
  CLIPTokenizer, padded to 77 as SDXL's tokenizer_2), CLIPImageProcessor(Pil) pixel values →
  CLIPVisionModelWithProjection image_embeds and hidden_states[-2] for every image, the CSD style embeddings with
  CSD's own preprocessing (torchvision Resize(224, BICUBIC) + CenterCrop(224) + ToTensor + Normalize, written out
  below as the PIL calls torchvision makes), and the scores: CLIP-T, CLIP and CSD style cosine to each reference,
  and the layout agreement of every pair (docs/EVALUATION.md; companion/eval/layout.ts), all in float64.
- the same scores from open_clip (3.3.0): an open_clip.model.CLIP of the same tiny sizes holding the same weights
  (mapped from the transformers checkpoints, load_state_dict strict), encode_text on the same ids, encode_image on
  open_clip's own eval preprocessing (image_transform(224, is_train=False): the torchvision pipeline above), the
  penultimate tokens from a hook on visual.transformer.resblocks[-2]. open_clip imports torchvision only for its
  transforms and one training helper; PyPI has no CPU torchvision for torch 2.13.0+cpu, so those names are stubbed
  before the import (import_open_clip) and the transform is written out as its PIL calls.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from torch import nn
from transformers import (CLIPImageProcessorPil, CLIPTextModelWithProjection, CLIPTokenizer, CLIPVisionConfig,
                          CLIPVisionModelWithProjection)

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "test" / "fixtures"
OUT = FIX / "eval"
TINY = FIX / "sdxl-tiny"

torch.set_num_threads(2)

PROMPTS = ["a lighthouse on a cliff at dawn", "a bowl of lemons on a wooden table, soft light"]
GENERATED = {"gen_a.png": (96, 80), "gen_b.png": (96, 80), "gen_c.png": (80, 96), "gen_d.png": (64, 64)}
REFERENCES = {"ref_warm.png": (72, 100), "ref_cool.png": (128, 128)}
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
CSD = {"width": 32, "layers": 2, "heads": 2, "patch": 32, "image": 224, "style_dim": 24, "content_dim": 20}


def draw(name: str, size: tuple[int, int]) -> np.ndarray:
    """Deterministic pictures: a blob on a gradient (a and b share the layout with other colours), stripes, noise."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    rng = np.random.default_rng(sum(map(ord, name)))
    img = np.zeros((h, w, 3))
    if name in ("gen_a.png", "gen_b.png"):
        blob = ((x - 0.3 * w) ** 2 + (y - 0.6 * h) ** 2 < (0.22 * min(w, h)) ** 2).astype(np.float64)
        palette = np.array([[200, 60, 40], [30, 80, 200]]) if name == "gen_a.png" else np.array([[250, 230, 60], [20, 20, 20]])
        for c in range(3):
            img[..., c] = palette[0, c] * blob + palette[1, c] * (1 - blob) * (y / h)
        img += rng.normal(0, 6 if name == "gen_a.png" else 20, img.shape)
    elif name == "gen_c.png":
        img[..., 0] = 128 + 100 * np.sin(x / 5)
        img[..., 1] = 128 + 100 * np.cos(y / 7)
        img[..., 2] = 255 * (x + y) / (w + h)
    elif name == "gen_d.png":
        img[...] = rng.integers(0, 256, (h, w, 3))
    elif name == "ref_warm.png":
        img[..., 0] = 230 - y
        img[..., 1] = 120 + 40 * np.sin(x / 3)
        img[..., 2] = 40
    else:
        img[..., 0] = 30
        img[..., 1] = 100 + 80 * np.sin((x + y) / 9)
        img[..., 2] = 200 + rng.normal(0, 25, (h, w))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def make_images() -> dict[str, Image.Image]:
    (OUT / "images").mkdir(parents=True, exist_ok=True)
    out = {}
    for name, size in {**GENERATED, **REFERENCES}.items():
        Image.fromarray(draw(name, size), "RGB").save(OUT / "images" / name, optimize=False)
        out[name] = Image.open(OUT / "images" / name).convert("RGB")
    return out


def make_image_encoder() -> CLIPVisionModelWithProjection:
    config = CLIPVisionConfig(hidden_size=40, intermediate_size=72, num_hidden_layers=3, num_attention_heads=2,
                              image_size=224, patch_size=32, projection_dim=48, hidden_act="gelu", layer_norm_eps=1e-5)
    torch.manual_seed(1501)
    model = CLIPVisionModelWithProjection(config).eval()
    with torch.no_grad():  # transformers' init is nearly degenerate at this size: spread every weight
        for p in model.parameters():
            p.add_(0.08 * torch.randn_like(p))
    model.save_pretrained(OUT / "image_encoder", safe_serialization=True)
    return CLIPVisionModelWithProjection.from_pretrained(OUT / "image_encoder", torch_dtype=torch.float32).eval()


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, heads)
        self.ln_1 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(d, 4 * d)), ("gelu", QuickGELU()), ("c_proj", nn.Linear(4 * d, d))]))
        self.ln_2 = nn.LayerNorm(d)

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, d: int, layers: int, heads: int):
        super().__init__()
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(d, heads) for _ in range(layers)])

    def forward(self, x):
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    """OpenAI CLIP's VisionTransformer with proj = None (what CSD_CLIP leaves of it)."""

    def __init__(self, width: int, layers: int, heads: int, patch: int, image: int):
        super().__init__()
        scale = width ** -0.5
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn((image // patch) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = nn.LayerNorm(width)

    def forward(self, x):
        x = self.conv1(x)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        cls = self.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x).permute(1, 0, 2)  # NLD -> LND, as nn.MultiheadAttention expects
        x = self.transformer(x).permute(1, 0, 2)
        return self.ln_post(x[:, 0, :])


class CsdClip(nn.Module):
    def __init__(self):
        super().__init__()
        c = CSD
        self.backbone = VisionTransformer(c["width"], c["layers"], c["heads"], c["patch"], c["image"])
        self.last_layer_style = nn.Parameter(c["width"] ** -0.5 * torch.randn(c["width"], c["style_dim"]))
        self.last_layer_content = nn.Parameter(c["width"] ** -0.5 * torch.randn(c["width"], c["content_dim"]))

    def forward(self, x):
        feature = self.backbone(x)
        return nn.functional.normalize(feature @ self.last_layer_style, dim=1, p=2)


def make_csd() -> CsdClip:
    torch.manual_seed(1502)
    model = CsdClip().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    (OUT / "csd").mkdir(parents=True, exist_ok=True)
    state = OrderedDict(("module." + k, v.detach().clone()) for k, v in model.state_dict().items())
    torch.save({"model_state_dict": state, "epoch": 1}, OUT / "csd" / "checkpoint.pth")
    # the same weights as the conversion docs/EVALUATION.md gives for checkpoints our reader refuses: bare keys
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(OUT / "csd" / "csd.safetensors"))
    return model


def torchvision_pixels(img: Image.Image, size: int = 224) -> torch.Tensor:
    """torchvision Resize(size, BICUBIC) + CenterCrop(size) + ToTensor + Normalize(OpenAI) on a PIL image, as the calls it
    makes (CSD's eval transform and open_clip's image_transform(size, is_train=False))."""
    w, h = img.size
    short, long = min(w, h), max(w, h)
    new_short, new_long = size, int(size * long / short)
    nw, nh = (new_short, new_long) if w <= h else (new_long, new_short)
    resized = img.resize((nw, nh), Image.BICUBIC)
    top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
    crop = resized.crop((left, top, left + size, top + size))
    t = torch.from_numpy(np.array(crop, copy=True)).permute(2, 0, 1).contiguous().to(torch.float32).div(255)
    mean = torch.tensor(OPENAI_MEAN, dtype=torch.float32)[:, None, None]
    std = torch.tensor(OPENAI_STD, dtype=torch.float32)[:, None, None]
    return ((t - mean) / std)[None]


def import_open_clip():
    """open_clip; where torchvision is missing or does not load (see the module docstring), with its names stubbed."""
    import enum
    import importlib.machinery
    import sys
    import types

    try:
        import open_clip
        return open_clip
    except Exception:  # noqa: BLE001 (torchvision absent, or its C++ ops built for another torch)
        for name in [n for n in sys.modules if n.split(".")[0] in ("torchvision", "open_clip")]:
            del sys.modules[name]

    def stub(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        m.__spec__ = importlib.machinery.ModuleSpec(name, None)
        m.__path__ = []
        sys.modules[name] = m

    class Unavailable:
        def __init__(self, *a, **k):
            raise RuntimeError("torchvision is stubbed in tools/golden/eval.py")

    class InterpolationMode(enum.Enum):
        NEAREST = "nearest"
        BILINEAR = "bilinear"
        BICUBIC = "bicubic"
        LANCZOS = "lanczos"

    names = ["Normalize", "Compose", "RandomResizedCrop", "ToTensor", "Resize", "CenterCrop", "ColorJitter", "Grayscale",
             "RandomGrayscale", "RandomHorizontalFlip"]
    stub("torchvision")
    stub("torchvision.ops")
    stub("torchvision.ops.misc", FrozenBatchNorm2d=nn.Module)
    stub("torchvision.transforms", InterpolationMode=InterpolationMode, **{n: Unavailable for n in names})
    stub("torchvision.transforms.functional")
    import open_clip
    return open_clip


def open_clip_twin(open_clip, text: CLIPTextModelWithProjection, vision: CLIPVisionModelWithProjection):
    """An open_clip CLIP of the tiny sizes with the transformers weights (the inverse of transformers' conversion)."""
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg
    tc, vc = text.config, vision.config
    assert tc.projection_dim == vc.projection_dim
    model = CLIP(embed_dim=tc.projection_dim,
                 vision_cfg=CLIPVisionCfg(layers=vc.num_hidden_layers, width=vc.hidden_size, head_width=vc.hidden_size // vc.num_attention_heads,
                                          mlp_ratio=vc.intermediate_size / vc.hidden_size, patch_size=vc.patch_size, image_size=vc.image_size),
                 text_cfg=CLIPTextCfg(context_length=tc.max_position_embeddings, vocab_size=tc.vocab_size, width=tc.hidden_size,
                                      heads=tc.num_attention_heads, layers=tc.num_hidden_layers, mlp_ratio=tc.intermediate_size / tc.hidden_size))
    t, v = text.state_dict(), vision.state_dict()
    state = {"logit_scale": model.logit_scale.detach()}

    def blocks(src: dict, src_prefix: str, dst_prefix: str, layers: int):
        for i in range(layers):
            a, b = f"{src_prefix}.encoder.layers.{i}", f"{dst_prefix}transformer.resblocks.{i}"
            state[f"{b}.attn.in_proj_weight"] = torch.cat([src[f"{a}.self_attn.{p}_proj.weight"] for p in "qkv"])
            state[f"{b}.attn.in_proj_bias"] = torch.cat([src[f"{a}.self_attn.{p}_proj.bias"] for p in "qkv"])
            for ours, theirs in [("attn.out_proj", "self_attn.out_proj"), ("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"),
                                 ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2")]:
                for k in ("weight", "bias"):
                    state[f"{b}.{ours}.{k}"] = src[f"{a}.{theirs}.{k}"]

    blocks(t, "text_model", "", tc.num_hidden_layers)
    state["token_embedding.weight"] = t["text_model.embeddings.token_embedding.weight"]
    state["positional_embedding"] = t["text_model.embeddings.position_embedding.weight"]
    state["ln_final.weight"], state["ln_final.bias"] = t["text_model.final_layer_norm.weight"], t["text_model.final_layer_norm.bias"]
    state["text_projection"] = t["text_projection.weight"].T
    blocks(v, "vision_model", "visual.", vc.num_hidden_layers)
    state["visual.conv1.weight"] = v["vision_model.embeddings.patch_embedding.weight"]
    state["visual.class_embedding"] = v["vision_model.embeddings.class_embedding"]
    state["visual.positional_embedding"] = v["vision_model.embeddings.position_embedding.weight"]
    for ours, theirs in [("ln_pre", "pre_layrnorm"), ("ln_post", "post_layernorm")]:
        for k in ("weight", "bias"):
            state[f"visual.{ours}.{k}"] = v[f"vision_model.{theirs}.{k}"]
    state["visual.proj"] = v["visual_projection.weight"].T
    model.load_state_dict(state, strict=True)
    return model.eval()


def self_similarity(tokens: np.ndarray) -> np.ndarray:
    t = tokens.astype(np.float64)
    t = t - t.mean(axis=0, keepdims=True)
    t = t / np.linalg.norm(t, axis=1, keepdims=True)
    s = t @ t.T
    return s[np.triu_indices(len(t), k=1)]


def cos(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().flatten(), b.double().flatten()
    return float(a @ b / (a.norm() * b.norm()))


def main() -> None:
    images = make_images()
    encoder = make_image_encoder()
    csd = make_csd()
    text = CLIPTextModelWithProjection.from_pretrained(TINY / "text_encoder_2", torch_dtype=torch.float32).eval()
    tokenizer = CLIPTokenizer.from_pretrained(TINY / "tokenizer_2")
    # the Pillow processor, whether or not torchvision is installed (the one diffusers' pipelines get without it)
    processor = CLIPImageProcessorPil(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224})
    tensors: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        text_embeds = {}
        for i, p in enumerate(PROMPTS):
            ids = tokenizer(p, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
            text_embeds[p] = text(input_ids=ids).text_embeds[0]
            tensors[f"text.{i}.text_embeds"] = text_embeds[p]
        clip_embeds, structure, csd_embeds = {}, {}, {}
        for name, img in images.items():
            pixels = processor(images=img, return_tensors="pt").pixel_values
            out = encoder(pixel_values=pixels, output_hidden_states=True)
            clip_embeds[name] = out.image_embeds[0]
            tensors[f"image.{name}.image_embeds"] = out.image_embeds[0]
            tensors[f"image.{name}.penultimate"] = out.hidden_states[-2][0]
            structure[name] = self_similarity(out.hidden_states[-2][0, 1:].numpy())
            cpix = torchvision_pixels(img, CSD["image"])
            csd_embeds[name] = csd(cpix)[0]
            if name == "ref_warm.png":  # 72×100: torchvision's rounded crop offset differs from CLIP's floor here
                tensors[f"csd.{name}.pixel_values"] = cpix[0]
            tensors[f"csd.{name}.style"] = csd_embeds[name]
    open_clip = import_open_clip()
    twin = open_clip_twin(open_clip, text, encoder)
    penultimate = {}
    twin.visual.transformer.resblocks[-2].register_forward_hook(lambda _m, _i, out: penultimate.__setitem__("tokens", out))
    oc_text, oc_clip, oc_structure = {}, {}, {}
    with torch.no_grad():
        for i, p in enumerate(PROMPTS):
            ids = tokenizer(p, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
            oc_text[p] = twin.encode_text(ids)[0]
            tensors[f"open_clip.text.{i}"] = oc_text[p]
        for name, img in images.items():
            oc_clip[name] = twin.encode_image(torchvision_pixels(img))[0]
            tensors[f"open_clip.image.{name}"] = oc_clip[name]
            oc_structure[name] = self_similarity(penultimate["tokens"][0, 1:].numpy())  # batch_first: [N, L, D]
    drift = max(float((oc_text[p] - text_embeds[p]).abs().max()) for p in PROMPTS)
    print(f"open_clip vs transformers text_embeds, same ids: max |diff| {drift:.2e}")
    gen = list(GENERATED)

    def scores_of(clip: dict, words: dict, structure: dict, csd_of: dict | None) -> dict:
        return {
            name: {
                "clipT": {p: cos(clip[name], words[p]) for p in PROMPTS},
                "style": {r: {"clip": cos(clip[name], clip[r]), **({"csd": cos(csd_of[name], csd_of[r])} if csd_of else {})} for r in REFERENCES},
                "layoutPairs": {o: float(np.corrcoef(structure[name], structure[o])[0, 1]) for o in gen if o != name},
            }
            for name in gen
        }

    scores = scores_of(clip_embeds, text_embeds, structure, csd_embeds)
    scores_open_clip = scores_of(oc_clip, oc_text, oc_structure, None)
    tensors = {k: v.detach().contiguous().to(torch.float32) for k, v in tensors.items()}
    save_file(tensors, str(OUT / "eval.safetensors"), metadata={"source": "tools/golden/eval.py"})
    side = {
        "file": "eval.safetensors",
        "description": "CLIP-T, style and layout scores of tiny random towers (transformers; open_clip with its own preprocessing) and a tiny CSD (torch), see tools/golden/eval.py",
        "inputs": {"prompts": PROMPTS, "generated": gen, "references": list(REFERENCES), "csd": CSD,
                   "text_encoder": "sdxl-tiny/text_encoder_2", "tokenizer": "sdxl-tiny/tokenizer_2"},
        "scores": scores,
        "scoresOpenClip": scores_open_clip,
        "tensors": {k: list(v.shape) for k, v in tensors.items()},
    }
    (OUT / "eval.json").write_text(json.dumps(side, indent=2) + "\n")


if __name__ == "__main__":
    main()
