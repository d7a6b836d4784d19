"""Fixtures and goldens for the networks (UNet, adapters, image projections, VAE).

Run with the reference venv:  /work/venv/bin/python tools/golden/unet.py
Never needed at run time. Writes only under test/fixtures/.

1. Copies the shared tiny SDXL UNet/VAE, the tiny h94 IP-Adapter folder and the shared goldens this area's
   tests use (sha256-checked against the shared manifest).
2. Adds what the shared set lacks:
   - an SD 1.5-type tiny UNet (no added embedding, int attention_head_dim, conv proj_in/proj_out) + forward;
   - the tiny SDXL UNet with IP-Adapter scale 0.7 on `up_blocks` only and on `up_blocks.0.attentions.1` only
     (diffusers `load_ip_adapter` + `set_ip_adapter_scale` with a per-block dict);
   - whole-UNet forwards with StyleStudio's processors (cross-modal AdaIN, text-only teacher rows, teacher
     self-attention sharing). The processors below are re-written from METHOD-DETAILS.md and checked against
     the shared single-processor goldens of the official code before they are used;
   - an h94 `ip-adapter-plus_sdxl_vit-h`-layout tiny Resampler checkpoint + diffusers projection goldens;
   - `ip-adapter_sdxl.bin` (the same tiny h94 adapter saved with torch.save, as h94 ships .bin files);
   - a tiny CSGO-style `.bin` (content_image_proj, style_image_proj Resampler, ip_adapter for every attn2,
     conv_in_unet_sd) + style-branch goldens.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("GOLDEN_SHARED", "/work/shared/golden"))
FIX = ROOT / "test" / "fixtures"
GOLD = FIX / "golden"

torch.set_num_threads(2)
torch.manual_seed(1234)


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def randn(shape, seed):
    return torch.randn(shape, generator=torch.Generator("cpu").manual_seed(seed))


def save_golden(name: str, description: str, inputs: dict, tensors: dict[str, torch.Tensor], descs=None):
    GOLD.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().to(torch.float32) if v.is_floating_point() else v.contiguous()
               for k, v in tensors.items()}
    save_file(tensors, str(GOLD / f"{name}.safetensors"), metadata={"source": "tools/golden/unet.py"})
    side = {"file": f"{name}.safetensors", "description": description, "inputs": inputs,
            "tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", ""),
                            "desc": (descs or {}).get(k, "")} for k, v in tensors.items()}}
    (GOLD / f"{name}.json").write_text(json.dumps(side, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------- 1. copies
def copy_shared():
    manifest = json.loads((SHARED / "manifest.json").read_text())
    files = manifest["files"]
    known = {f["path"] if isinstance(f, dict) else f: f for f in (files if isinstance(files, list) else files.keys())}
    shas = {}
    if isinstance(files, dict):
        shas = {k: (v["sha256"] if isinstance(v, dict) else v) for k, v in files.items()}
    else:
        shas = {f["path"]: f["sha256"] for f in files}
    copies = [
        "sdxl-tiny/unet/config.json", "sdxl-tiny/unet/diffusion_pytorch_model.safetensors",
        "sdxl-tiny/unet/diffusion_pytorch_model.fp16.safetensors",
        "sdxl-tiny/vae/config.json", "sdxl-tiny/vae/diffusion_pytorch_model.safetensors",
        "sdxl-tiny/vae/diffusion_pytorch_model.fp16.safetensors",
        "ip-adapter-tiny/sdxl_models/image_encoder/config.json",
        "ip-adapter-tiny/sdxl_models/image_encoder/model.safetensors",
        "ip-adapter-tiny/sdxl_models/ip-adapter_sdxl.safetensors",
    ]
    for rel in copies:
        src = SHARED / rel
        dst = FIX / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        if rel in shas and shas[rel] != sha256(dst):
            sys.exit(f"sha256 mismatch for {rel}")
    for name in ["unet", "vae", "image_encoder", "stylestudio_processors"]:
        for ext in ("safetensors", "json"):
            rel = f"tensors/{name}.{ext}"
            dst = GOLD / f"{name}.{ext}"
            GOLD.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SHARED / rel, dst)
            if rel in shas and shas[rel] != sha256(dst):
                sys.exit(f"sha256 mismatch for {rel}")
    del known


# ------------------------------------------------------------------------------- StyleStudio processors
def heads_split(x, heads):
    b, n, c = x.shape
    return x.view(b, n, heads, c // heads).transpose(1, 2)


def heads_merge(x):
    b, h, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, h * d)


class SelfAttnShare:
    """attn1 with teacher sharing as the official AttnProcessor2_0_hijack does it: explicit P, P[student]=P[teacher],
    every row multiplies by its OWN V. `index` = per-row source of P (identity = plain attention)."""

    def __init__(self, index):
        self.index = index

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kw):
        assert encoder_hidden_states is None and attn.group_norm is None and attn.spatial_norm is None
        q = heads_split(attn.to_q(hidden_states), attn.heads)
        k = heads_split(attn.to_k(hidden_states), attn.heads)
        v = heads_split(attn.to_v(hidden_states), attn.heads)
        p = torch.softmax(q @ k.transpose(-1, -2) * (q.shape[-1] ** -0.5), dim=-1)
        p = p[self.index]
        out = heads_merge(p @ v)
        return attn.to_out[1](attn.to_out[0](out))


class CrossAttnStyle:
    """attn2 per METHOD.md §1: text attention c; on style layers also s = Attn(Q, K_ip, V_ip);
    h = (1-alpha)(c + scale s) + alpha AdaIN(c, s) (alpha in {0,1} is the official code); teacher rows get c.
    Non-style layers drop the style tokens (text only), as the official skip=True processors do."""

    def __init__(self, tokens, to_k_ip=None, to_v_ip=None, scale=1.0, alpha=0.0, teacher_mask=None):
        self.tokens = tokens
        self.to_k_ip, self.to_v_ip = to_k_ip, to_v_ip
        self.scale, self.alpha, self.teacher_mask = scale, alpha, teacher_mask

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kw):
        ehs = encoder_hidden_states
        text, ip = ehs[:, : ehs.shape[1] - self.tokens], ehs[:, ehs.shape[1] - self.tokens:]
        q = heads_split(attn.to_q(hidden_states), attn.heads)
        c = heads_merge(F.scaled_dot_product_attention(
            q, heads_split(attn.to_k(text), attn.heads), heads_split(attn.to_v(text), attn.heads)))
        h = c
        if self.to_k_ip is not None:
            s = heads_merge(F.scaled_dot_product_attention(
                q, heads_split(self.to_k_ip(ip), attn.heads), heads_split(self.to_v_ip(ip), attn.heads)))
            add = c + self.scale * s
            if self.alpha:
                ada = (c - c.mean(1, keepdim=True)) / c.std(1, keepdim=True) * s.std(1, keepdim=True) \
                    + s.mean(1, keepdim=True)
                h = (1 - self.alpha) * add + self.alpha * ada if self.alpha != 1 else ada
            else:
                h = add
            if self.teacher_mask is not None:
                m = self.teacher_mask.view(-1, 1, 1)
                h = torch.where(m > 0, c, h)
        return attn.to_out[1](attn.to_out[0](h))


def linear_from(w):
    lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
    lin.weight.data.copy_(w)
    return lin


def check_processors_against_official(unet):
    """The shared goldens come from the unmodified official processors; ours must reproduce them."""
    g = load_file(str(SHARED / "tensors/stylestudio_processors.safetensors"))
    attn2 = unet.get_submodule("up_blocks.0.attentions.1.transformer_blocks.0.attn2")
    attn1 = unet.get_submodule("up_blocks.0.attentions.1.transformer_blocks.0.attn1")
    kip, vip = linear_from(g["in.to_k_ip.weight"]), linear_from(g["in.to_v_ip.weight"])
    hs, ehs = g["in.hidden_states"], g["in.encoder_hidden_states"]
    teacher = torch.tensor([1.0, 0.0, 1.0, 0.0])
    cases = {
        "cross.scale1.b1": (CrossAttnStyle(4, kip, vip, 1.0), 1),
        "cross.scale0.7.b1": (CrossAttnStyle(4, kip, vip, 0.7), 1),
        "cross.adain.b1": (CrossAttnStyle(4, kip, vip, 1.0, alpha=1.0), 1),
        "cross.skip.b1": (CrossAttnStyle(4), 1),
        "cross.scale1.b4": (CrossAttnStyle(4, kip, vip, 1.0, teacher_mask=teacher), 4),
        "cross.adain.b4": (CrossAttnStyle(4, kip, vip, 1.0, alpha=1.0, teacher_mask=teacher), 4),
    }
    worst = 0.0
    with torch.no_grad():
        for name, (proc, b) in cases.items():
            h = hs[1:2] if b == 1 else hs
            e = ehs[1:2] if b == 1 else ehs
            out = proc(attn2, h, e)
            d = (out - g[f"{name}.out"]).abs().max().item()
            worst = max(worst, d)
        for name, idx in {"self.fuSAttn.b4": [0, 0, 2, 2], "self.plain.b4": [0, 1, 2, 3]}.items():
            out = SelfAttnShare(torch.tensor(idx))(attn1, hs)
            worst = max(worst, (out - g[f"{name}.out"]).abs().max().item())
    if worst > 2e-6:
        sys.exit(f"reference processors differ from the official goldens by {worst}")
    print(f"reference processors == official StyleStudio processors (max abs diff {worst:.2e})")
    return worst


def install_style_processors(unet, ip_weights, style_prefixes, tokens, scale, alpha, teacher_mask, share_index):
    """ip_weights: processor-order id -> (to_k_ip, to_v_ip) tensors (diffusers/h94 numbering)."""
    procs = {}
    for i, name in enumerate(unet.attn_processors.keys()):
        if name.endswith("attn1.processor"):
            procs[name] = SelfAttnShare(share_index)
            continue
        layer = name[: -len(".processor")]
        if any(layer == p or layer.startswith(p + ".") for p in style_prefixes):
            k, v = ip_weights[i]
            procs[name] = CrossAttnStyle(tokens, linear_from(k), linear_from(v), scale, alpha, teacher_mask)
        else:
            procs[name] = CrossAttnStyle(tokens)
    unet.set_attn_processor(procs)


# ----------------------------------------------------------------------------------------- SDXL goldens
def load_sdxl_unet():
    from diffusers import UNet2DConditionModel
    return UNet2DConditionModel.from_pretrained(str(FIX / "sdxl-tiny/unet"), torch_dtype=torch.float32).eval()


def shared_unet_inputs():
    g = load_file(str(SHARED / "tensors/unet.safetensors"))
    return g


def ip_layers_goldens():
    """diffusers' own IP-Adapter path with per-block scales (InstantStyle-style layer selection)."""
    from diffusers import StableDiffusionXLPipeline
    pipe = StableDiffusionXLPipeline.from_pretrained(str(SHARED / "sdxl-tiny"), dtype=torch.float32)
    pipe.load_ip_adapter(str(SHARED / "ip-adapter-tiny"), subfolder="sdxl_models",
                         weight_name="ip-adapter_sdxl.safetensors")
    unet = pipe.unet.eval()
    g = shared_unet_inputs()
    cond = {"text_embeds": g["in.text_embeds"], "time_ids": g["in.time_ids"],
            "image_embeds": [g["in.ip_image_embeds.0"]]}
    out = {}
    with torch.no_grad():
        tokens = unet.encoder_hid_proj(cond["image_embeds"])[0]  # (2, 1, 4, D)
        out["in.ip_tokens"] = tokens[:, 0]
        configs = {
            "up_blocks": {"up": 0.7},
            "up_blocks.0.attentions.1": {"up": {"block_0": [0.0, 0.7, 0.0]}},
            "all": 0.7,
        }
        for key, cfg in configs.items():
            pipe.set_ip_adapter_scale(cfg)
            on = [n for n, p in unet.attn_processors.items() if hasattr(p, "scale") and p.scale[0] != 0]
            out[f"out.noise_pred.ip_0.7.{key}"] = unet(
                g["in.sample"], g["in.timestep"], encoder_hidden_states=g["in.encoder_hidden_states"],
                added_cond_kwargs=cond).sample
            print(f"ip scale 0.7 on {key}: {len(on)} layers")
    save_golden("unet.ip_layers",
                "Tiny SDXL UNet + IP-Adapter (diffusers load_ip_adapter), set_ip_adapter_scale per block at 0.7; "
                "inputs are those of unet.safetensors (in.*). in.ip_tokens = unet.encoder_hid_proj(image_embeds).",
                {"scale_configs": {"up_blocks": {"up": 0.7},
                                   "up_blocks.0.attentions.1": {"up": {"block_0": [0.0, 0.7, 0.0]}}, "all": 0.7},
                 "inputs_from": "unet.safetensors"}, out)


def ip_weights_by_id(path: Path):
    sd = load_file(str(path))
    w = {}
    for k, v in sd.items():
        if k.startswith("ip_adapter."):
            i, name = k[len("ip_adapter."):].split(".", 1)
            w.setdefault(int(i), {})[name] = v.float()
    return {i: (d["to_k_ip.weight"], d["to_v_ip.weight"]) for i, d in w.items()}


def stylestudio_unet_goldens():
    unet = load_sdxl_unet()
    check_processors_against_official(unet)
    g = shared_unet_inputs()
    ipw = ip_weights_by_id(SHARED / "ip-adapter-tiny/sdxl_models/ip-adapter_sdxl.safetensors")
    # batch [uncond-teacher, uncond-student, cond-teacher, cond-student]; teacher rows share the student's latent.
    sample2 = g["in.sample"]
    sample = torch.stack([sample2[0], sample2[0], sample2[1], sample2[1]])
    text = g["in.encoder_hidden_states"]  # (2, 77, D): [neg(''), pos]
    ipg = load_file(str(SHARED / "tensors/image_encoder.safetensors"))
    tok = ipg["projected.ip_tokens.0"][:, 0]  # (2, 4, D): [proj(zeros), proj(style)]
    ehs = torch.cat([torch.stack([text[0], text[0], text[1], text[1]]),
                     torch.stack([tok[0], tok[0], tok[1], tok[1]])], dim=1)
    text_embeds = g["in.text_embeds"][[0, 0, 1, 1]]
    time_ids = g["in.time_ids"][[0, 0, 1, 1]]
    t = g["in.timestep"]
    teacher = torch.tensor([1.0, 0.0, 1.0, 0.0])
    none = torch.zeros(4)
    share = torch.tensor([0, 0, 2, 2])
    ident = torch.tensor([0, 1, 2, 3])
    scenarios = {
        # name: (style prefixes, scale, alpha, teacher mask, share index)
        "adain_teacher.instantstyle": (["up_blocks.0.attentions.1"], 1.0, 1.0, teacher, share),
        "adain_teacher.up_blocks": (["up_blocks"], 1.0, 1.0, teacher, share),
        "ipadd_teacher_rows_noshare.up_blocks": (["up_blocks"], 0.7, 0.0, teacher, ident),
        "ipadd.up_blocks.0.attentions.1": (["up_blocks.0.attentions.1"], 0.7, 0.0, none, ident),
        "blend0.5_scale0.7.up_blocks": (["up_blocks"], 0.7, 0.5, none, ident),
        "text_only_share": ([], 1.0, 0.0, none, share),
    }
    out = {"in.sample": sample, "in.timestep": t, "in.encoder_hidden_states": ehs,
           "in.text_embeds": text_embeds, "in.time_ids": time_ids}
    inputs = {}
    with torch.no_grad():
        for name, (prefixes, scale, alpha, mask, index) in scenarios.items():
            install_style_processors(unet, ipw, prefixes, 4, scale, alpha, mask, index)
            out[f"out.{name}"] = unet(sample, t, encoder_hidden_states=ehs,
                                      added_cond_kwargs={"text_embeds": text_embeds, "time_ids": time_ids}).sample
            inputs[name] = {"style_layers": prefixes, "ip_scale": scale, "adain_strength": alpha,
                            "teacher_mask": mask.tolist(), "teacher_index": index.tolist()}
    # sanity: scenarios must differ clearly from each other
    ref = out["out.text_only_share"]
    for k, v in out.items():
        if k.startswith("out.") and k != "out.text_only_share":
            print(f"{k}: max |diff| vs text-only+share {(v - ref).abs().max():.3f}")
    save_golden("unet.stylestudio",
                "Tiny SDXL UNet (fp32) with StyleStudio attention (reference processors re-written from "
                "METHOD-DETAILS.md and checked bit-close against the official processors' goldens): batch rows "
                "[uncond-teacher, uncond-student, cond-teacher, cond-student], ehs = [text(77) ; ip tokens(4)] from "
                "the shared unet/image_encoder goldens, ip weights of ip-adapter_sdxl.safetensors. AdaIN exactly as "
                "the official code (unbiased std over tokens, no epsilon); blend = (1-a)(c+scale*s)+a*AdaIN.",
                {"scenarios": inputs, "ip_tokens": 4, "timestep": float(t)}, out)


# ------------------------------------------------------------------------------------------ SD 1.5 tiny
SD15_CONFIG = dict(
    sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
    block_out_channels=[16, 32, 48], norm_num_groups=8, cross_attention_dim=24, attention_head_dim=4,
    down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    use_linear_projection=False, flip_sin_to_cos=True, freq_shift=0,
)


def reinit_attention_linears(model, seed):
    gen = torch.Generator("cpu").manual_seed(seed)
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and "attentions" in name:
            mod.weight.data = torch.randn(mod.weight.shape, generator=gen) / math.sqrt(mod.weight.shape[1])


def sd15_golden():
    from diffusers import UNet2DConditionModel
    torch.manual_seed(1501)
    unet = UNet2DConditionModel(**SD15_CONFIG).eval()
    reinit_attention_linears(unet, 1502)
    d = FIX / "sd15-tiny/unet"
    unet.save_pretrained(str(d), safe_serialization=True)
    unet = UNet2DConditionModel.from_pretrained(str(d), torch_dtype=torch.float32).eval()
    sample = randn((2, 4, 8, 8), 1510)
    ehs = randn((2, 77, 24), 1511)
    t = torch.tensor(701.0)
    with torch.no_grad():
        outp = unet(sample, t, encoder_hidden_states=ehs).sample
    save_golden("unet.sd15", "SD 1.5-type tiny UNet (conv proj_in/out, int attention_head_dim, no added embedding).",
                {"config": SD15_CONFIG, "timestep": 701.0, "sample_seed": 1510, "ehs_seed": 1511},
                {"in.sample": sample, "in.timestep": t, "in.encoder_hidden_states": ehs, "out.noise_pred": outp})


# ----------------------------------------------------------------------------- Resampler (IP-Adapter Plus)
class PerceiverAttention(torch.nn.Module):
    """The IP-Adapter Resampler's attention (tencent-ailab IP-Adapter resampler.py layout), re-written."""

    def __init__(self, dim, dim_head, heads):
        super().__init__()
        self.heads, self.dim_head = heads, dim_head
        self.norm1, self.norm2 = torch.nn.LayerNorm(dim), torch.nn.LayerNorm(dim)
        self.to_q = torch.nn.Linear(dim, dim_head * heads, bias=False)
        self.to_kv = torch.nn.Linear(dim, dim_head * heads * 2, bias=False)
        self.to_out = torch.nn.Linear(dim_head * heads, dim, bias=False)

    def forward(self, x, latents):
        x, latents = self.norm1(x), self.norm2(latents)
        q = heads_split(self.to_q(latents), self.heads)
        k, v = self.to_kv(torch.cat([x, latents], dim=1)).chunk(2, dim=-1)
        k, v = heads_split(k, self.heads), heads_split(v, self.heads)
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.dim_head), dim=-1)
        return self.to_out(heads_merge(w @ v))


class Resampler(torch.nn.Module):
    def __init__(self, dim, depth, dim_head, heads, num_queries, embedding_dim, output_dim, ff_mult=4):
        super().__init__()
        self.latents = torch.nn.Parameter(torch.randn(1, num_queries, dim) / dim ** 0.5)
        self.proj_in = torch.nn.Linear(embedding_dim, dim)
        self.proj_out = torch.nn.Linear(dim, output_dim)
        self.norm_out = torch.nn.LayerNorm(output_dim)
        self.layers = torch.nn.ModuleList([torch.nn.ModuleList([
            PerceiverAttention(dim, dim_head, heads),
            torch.nn.Sequential(torch.nn.LayerNorm(dim), torch.nn.Linear(dim, dim * ff_mult, bias=False),
                                torch.nn.GELU(), torch.nn.Linear(dim * ff_mult, dim, bias=False)),
        ]) for _ in range(depth)])

    def forward(self, x):
        latents = self.latents.repeat(x.shape[0], 1, 1)
        x = self.proj_in(x)
        for attn, ff in self.layers:
            latents = attn(x, latents) + latents
            latents = ff(latents) + latents
        return self.norm_out(self.proj_out(latents))


def randomize_norms(module, seed):
    gen = torch.Generator("cpu").manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.LayerNorm):
            m.weight.data = 1 + 0.3 * torch.randn(m.weight.shape, generator=gen)
            m.bias.data = 0.2 * torch.randn(m.bias.shape, generator=gen)


def ip_adapter_state(unet, cross_dim, seed, dtype=torch.float16):
    """ip_adapter dict in processor order, to_k_ip/to_v_ip for every attn2 (odd ids), N(0, 1/cross_dim)."""
    gen = torch.Generator("cpu").manual_seed(seed)
    sd = {}
    for i, name in enumerate(unet.attn_processors.keys()):
        if name.endswith("attn2.processor"):
            attn = unet.get_submodule(name[: -len(".processor")])
            hidden = attn.to_q.weight.shape[0]
            for kv in ("to_k_ip", "to_v_ip"):
                sd[f"{i}.{kv}.weight"] = (torch.randn(hidden, cross_dim, generator=gen) / math.sqrt(cross_dim)).to(dtype)
    return sd


def plus_goldens():
    """h94 ip-adapter-plus_sdxl_vit-h layout: image_proj = Resampler(dim 1280, depth 4, heads 20 x 64, 16
    queries, in = ViT-H hidden 1280, out = 2048). Tiny: dim 40, heads 2 x 64, 6 queries, in 32, out 96."""
    from diffusers import StableDiffusionXLPipeline
    unet = load_sdxl_unet()
    torch.manual_seed(2001)
    res = Resampler(dim=40, depth=4, dim_head=64, heads=2, num_queries=6, embedding_dim=32, output_dim=96).eval()
    randomize_norms(res, 2002)
    sd = {f"image_proj.{k}": v.to(torch.float16) for k, v in res.state_dict().items()}
    sd.update({f"ip_adapter.{k}": v for k, v in ip_adapter_state(unet, 96, 2003).items()})
    dst = FIX / "ip-adapter-tiny/sdxl_models/ip-adapter-plus_sdxl_vit-h.safetensors"
    save_file(sd, str(dst))
    # reference uses the fp16-stored weights in fp32, like diffusers does
    res.load_state_dict({k[len("image_proj."):]: v.float() for k, v in sd.items() if k.startswith("image_proj.")})
    ig = load_file(str(SHARED / "tensors/image_encoder.safetensors"))
    feats = ig["style.hidden_states_penultimate"]  # (1, 50, 32)
    pipe = StableDiffusionXLPipeline.from_pretrained(str(SHARED / "sdxl-tiny"), dtype=torch.float32)
    pipe.load_ip_adapter(str(FIX / "ip-adapter-tiny"), subfolder="sdxl_models",
                         weight_name="ip-adapter-plus_sdxl_vit-h.safetensors")
    from PIL import Image
    style = Image.open(SHARED / "tensors/style.png")
    with torch.no_grad():
        ours = res(feats)
        ours_zero = res(torch.zeros_like(feats))
        prepared = pipe.prepare_ip_adapter_image_embeds(style, None, "cpu", 1, True)[0]  # (2, 1, 50, 32)
        diff_tokens = pipe.unet.encoder_hid_proj([prepared])[0]  # (2, 1, 6, 96)
    d = (diff_tokens[1, 0] - ours[0]).abs().max().item()
    if d > 1e-5:
        sys.exit(f"re-written Resampler differs from diffusers IPAdapterPlusImageProjection by {d}")
    print(f"Resampler == diffusers IPAdapterPlusImageProjection (max abs diff {d:.2e})")
    save_golden("image_encoder.plus",
                "IP-Adapter Plus (h94 ip-adapter-plus_sdxl_vit-h layout, tiny): Resampler over the image "
                "encoder's penultimate hidden states, diffusers load_ip_adapter + prepare_ip_adapter_image_embeds "
                "(diffusers' uncond = encoder(zero PIXELS) features) and proj(zero features).",
                {"resampler": {"dim": 40, "depth": 4, "dim_head": 64, "heads": 2, "num_queries": 6,
                               "embedding_dim": 32, "output_dim": 96},
                 "weights": "ip-adapter-tiny/sdxl_models/ip-adapter-plus_sdxl_vit-h.safetensors (fp16)"},
                {"in.hidden_states_penultimate": feats, "out.tokens": ours, "out.tokens_zero_features": ours_zero,
                 "prepared.image_embeds": prepared, "diffusers.tokens": diff_tokens[:, 0]})


def bin_copy_of_h94():
    """h94 ships .bin files as torch.save({'image_proj': {...}, 'ip_adapter': {...}})."""
    sd = load_file(str(SHARED / "ip-adapter-tiny/sdxl_models/ip-adapter_sdxl.safetensors"))
    nested = {"image_proj": {}, "ip_adapter": {}}
    for k, v in sd.items():
        top, rest = k.split(".", 1)
        nested[top][rest] = v
    torch.save(nested, str(FIX / "ip-adapter-tiny/sdxl_models/ip-adapter_sdxl.bin"))


def csgo_goldens():
    """Tiny CSGO checkpoint like csgo_4_32.bin: content_image_proj (ImageProjModel, unused by StyleStudio),
    style_image_proj (Resampler dim = cross_dim, heads x 64, 8 queries, in = image-encoder hidden),
    ip_adapter (to_k_ip/to_v_ip for every attn2: content weights in down_blocks, style in up_blocks),
    conv_in_unet_sd (replaces unet.conv_in)."""
    unet = load_sdxl_unet()
    torch.manual_seed(3001)
    style_proj = Resampler(dim=96, depth=4, dim_head=64, heads=2, num_queries=8, embedding_dim=32,
                           output_dim=96).eval()
    randomize_norms(style_proj, 3002)
    content_proj = {"proj.weight": randn((4 * 96, 32), 3003) / math.sqrt(32), "proj.bias": randn((4 * 96,), 3004) * 0.1,
                    "norm.weight": torch.ones(96), "norm.bias": torch.zeros(96)}
    conv_in = {"weight": randn(tuple(unet.conv_in.weight.shape), 3005) * 0.2,
               "bias": randn(tuple(unet.conv_in.bias.shape), 3006) * 0.1}
    ckpt = {"content_image_proj": {k: v.half() for k, v in content_proj.items()},
            "style_image_proj": {k: v.half() for k, v in style_proj.state_dict().items()},
            "ip_adapter": ip_adapter_state(unet, 96, 3007),
            "conv_in_unet_sd": {k: v.half() for k, v in conv_in.items()}}
    dst = FIX / "ip-adapter-tiny/csgo/csgo_tiny.bin"
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, str(dst))
    ckpt = torch.load(str(dst), map_location="cpu", weights_only=True)
    style_proj.load_state_dict({k: v.float() for k, v in ckpt["style_image_proj"].items()})
    unet.conv_in.load_state_dict({k: v.float() for k, v in ckpt["conv_in_unet_sd"].items()})
    ig = load_file(str(SHARED / "tensors/image_encoder.safetensors"))
    feats = ig["style.hidden_states_penultimate"]
    g = shared_unet_inputs()
    with torch.no_grad():
        tokens = style_proj(feats)[0]
        uncond = style_proj(torch.zeros_like(feats))[0]
        ipw = {int(k.split(".")[0]): None for k in ckpt["ip_adapter"]}
        ipw = {i: (ckpt["ip_adapter"][f"{i}.to_k_ip.weight"].float(), ckpt["ip_adapter"][f"{i}.to_v_ip.weight"].float())
               for i in ipw}
        ehs = torch.cat([g["in.encoder_hidden_states"], torch.stack([uncond, tokens])], dim=1)  # (2, 85, 96)
        cond = {"text_embeds": g["in.text_embeds"], "time_ids": g["in.time_ids"]}
        out = {"in.hidden_states_penultimate": feats, "out.style_tokens": tokens, "out.uncond_tokens": uncond,
               "in.encoder_hidden_states": ehs}
        for name, alpha in {"ipadd_scale1": 0.0, "adain": 1.0}.items():
            install_style_processors(unet, ipw, ["up_blocks"], 8, 1.0, alpha, None, torch.tensor([0, 1]))
            out[f"out.noise_pred.{name}"] = unet(g["in.sample"], g["in.timestep"], encoder_hidden_states=ehs,
                                                 added_cond_kwargs=cond).sample
    save_golden("unet.csgo",
                "Tiny CSGO-style checkpoint (ip-adapter-tiny/csgo/csgo_tiny.bin, fp16): StyleStudio's use of it = "
                "style_image_proj Resampler over penultimate features (uncond = proj(zero features)), conv_in "
                "replaced by conv_in_unet_sd, to_k_ip/to_v_ip on every attn2 of up_blocks (8 style tokens). "
                "UNet inputs (sample, timestep, text_embeds, time_ids) are unet.safetensors' in.*.",
                {"style_layers": ["up_blocks"], "tokens": 8, "ip_scale": 1.0,
                 "resampler": {"dim": 96, "depth": 4, "dim_head": 64, "heads": 2, "num_queries": 8,
                               "embedding_dim": 32, "output_dim": 96}}, out)


def sdxl_base_processor_order():
    """diffusers' attn_processors order for the REAL SDXL base config (built on the meta device, no weights):
    the order adapter checkpoints number their to_k_ip/to_v_ip keys by."""
    from diffusers import UNet2DConditionModel
    cfg = json.loads((FIX / "sdxl-base-config/unet/config.json").read_text())
    cfg = {k: v for k, v in cfg.items() if not k.startswith("_")}
    with torch.device("meta"):
        unet = UNet2DConditionModel(**cfg)
    layers = []
    for i, name in enumerate(unet.attn_processors.keys()):
        path = name[: -len(".processor")]
        attn = unet.get_submodule(path)
        layers.append({"id": i, "path": path, "heads": attn.heads, "inner_dim": attn.to_q.weight.shape[0],
                       "cross_dim": attn.to_k.weight.shape[1]})
    out = {"description": "UNet2DConditionModel(**sdxl-base-config/unet/config.json).attn_processors order "
                          "(diffusers " + __import__("diffusers").__version__ + ")", "layers": layers}
    (GOLD / "unet.sdxl_base_attention_layers.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"SDXL base: {len(layers)} attention layers")


def main():
    copy_shared()
    sdxl_base_processor_order()
    bin_copy_of_h94()
    sd15_golden()
    ip_layers_goldens()
    stylestudio_unet_goldens()
    plus_goldens()
    csgo_goldens()


if __name__ == "__main__":
    main()
