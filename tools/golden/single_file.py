"""Key names of the tiny SDXL set as a single-file (original sgm/ldm layout) checkpoint would hold them.

Writes test/fixtures/sdxl-tiny-single-file/keys.json: every tensor of test/fixtures/sdxl-tiny under the name and
shape it has in an original SDXL checkpoint. A third, separate statement of the layout (the companion reads it in
companion/weights/ldm-layout.ts, the test helper test/companion/weights/ldm-checkpoint-writer.ts writes it): here
module tables built by enumerating the blocks the configs describe, as sgm's UNetModel / ldm's Encoder/Decoder /
open_clip's TextTransformer construct them. Standard library only (reads the safetensors headers itself), so it runs
with any Python 3.8+:

    python3 tools/golden/single_file.py
"""
import json
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "test" / "fixtures" / "sdxl-tiny"
OUT = ROOT / "test" / "fixtures" / "sdxl-tiny-single-file" / "keys.json"


def header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        h = json.loads(f.read(n))
    h.pop("__metadata__", None)
    return {k: v["shape"] for k, v in h.items()}


def config(part):
    return json.loads((TINY / part / "config.json").read_text())


def unet_modules(c):
    """diffusers module path -> sgm module path, block by block as UNetModel.__init__ appends them."""
    m = {"conv_in": "input_blocks.0.0", "time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
         "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2",
         "conv_norm_out": "out.0", "conv_out": "out.2",
         "mid_block.resnets.0": "middle_block.0", "mid_block.attentions.0": "middle_block.1", "mid_block.resnets.1": "middle_block.2"}
    n = c["layers_per_block"]
    block = 1
    for level, kind in enumerate(c["down_block_types"]):
        for j in range(n):
            m[f"down_blocks.{level}.resnets.{j}"] = f"input_blocks.{block}.0"
            if kind.startswith("CrossAttn"):
                m[f"down_blocks.{level}.attentions.{j}"] = f"input_blocks.{block}.1"
            block += 1
        if level != len(c["down_block_types"]) - 1:
            m[f"down_blocks.{level}.downsamplers.0.conv"] = f"input_blocks.{block}.0.op"
            block += 1
    block = 0
    for level, kind in enumerate(c["up_block_types"]):
        for j in range(n + 1):
            m[f"up_blocks.{level}.resnets.{j}"] = f"output_blocks.{block}.0"
            inner = 1
            if kind.startswith("CrossAttn"):
                m[f"up_blocks.{level}.attentions.{j}"] = f"output_blocks.{block}.1"
                inner = 2
            if j == n and level != len(c["up_block_types"]) - 1:
                m[f"up_blocks.{level}.upsamplers.0.conv"] = f"output_blocks.{block}.{inner}.conv"
            block += 1
    return m


UNET_RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
               "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}


def rename(key, modules, inner=None):
    parts = key.split(".")
    for cut in range(len(parts), 0, -1):
        head = ".".join(parts[:cut])
        if head in modules:
            rest = parts[cut:]
            if inner and ".resnets." in head + "." and rest[0] in inner:
                rest = inner[rest[0]].split(".") + rest[1:]
            return ".".join([modules[head]] + rest)
    raise KeyError(key)


def vae_modules(c):
    m = {x: x for x in ["encoder.conv_in", "encoder.conv_out", "decoder.conv_in", "decoder.conv_out", "quant_conv", "post_quant_conv"]}
    m["encoder.conv_norm_out"] = "encoder.norm_out"
    m["decoder.conv_norm_out"] = "decoder.norm_out"
    levels = len(c["block_out_channels"])
    for i in range(levels):
        for j in range(c["layers_per_block"]):
            m[f"encoder.down_blocks.{i}.resnets.{j}"] = f"encoder.down.{i}.block.{j}"
        if i != levels - 1:
            m[f"encoder.down_blocks.{i}.downsamplers.0.conv"] = f"encoder.down.{i}.downsample.conv"
        for j in range(c["layers_per_block"] + 1):
            m[f"decoder.up_blocks.{i}.resnets.{j}"] = f"decoder.up.{levels - 1 - i}.block.{j}"
        if i != levels - 1:
            m[f"decoder.up_blocks.{i}.upsamplers.0.conv"] = f"decoder.up.{levels - 1 - i}.upsample.conv"
    for side in ["encoder", "decoder"]:
        m[f"{side}.mid_block.resnets.0"] = f"{side}.mid.block_1"
        m[f"{side}.mid_block.resnets.1"] = f"{side}.mid.block_2"
        for a, b in [("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out")]:
            m[f"{side}.mid_block.attentions.0.{a}"] = f"{side}.mid.attn_1.{b}"
    return m


def main():
    out = {}
    c = config("unet")
    modules = unet_modules(c)
    for k, shape in header(TINY / "unet" / "diffusion_pytorch_model.safetensors").items():
        out["model.diffusion_model." + rename(k, modules, UNET_RESNET)] = shape
    c = config("vae")
    modules = vae_modules(c)
    for k, shape in header(TINY / "vae" / "diffusion_pytorch_model.safetensors").items():
        name = rename(k, modules, {"conv_shortcut": "nin_shortcut"})
        conv = ".mid.attn_1." in name and name.endswith(".weight") and not name.split(".")[-2] == "norm"
        out["first_stage_model." + name] = shape + [1, 1] if conv else shape
    te1 = header(TINY / "text_encoder" / "model.safetensors")
    for k, shape in te1.items():
        out["conditioner.embedders.0.transformer." + (k if k.startswith("text_model.") else "text_model." + k)] = shape
    out["conditioner.embedders.0.transformer.text_model.embeddings.position_ids"] = [1, config("text_encoder")["max_position_embeddings"]]
    te2 = header(TINY / "text_encoder_2" / "model.safetensors")
    c = config("text_encoder_2")
    hidden = c["hidden_size"]
    p = "conditioner.embedders.1.model."
    out[p + "token_embedding.weight"] = te2["text_model.embeddings.token_embedding.weight"]
    out[p + "positional_embedding"] = te2["text_model.embeddings.position_embedding.weight"]
    out[p + "ln_final.weight"] = [hidden]
    out[p + "ln_final.bias"] = [hidden]
    out[p + "text_projection"] = list(reversed(te2["text_projection.weight"]))
    out[p + "logit_scale"] = []
    for i in range(c["num_hidden_layers"]):
        src = f"text_model.encoder.layers.{i}."
        dst = f"{p}transformer.resblocks.{i}."
        out[dst + "attn.in_proj_weight"] = [3 * hidden, hidden]
        out[dst + "attn.in_proj_bias"] = [3 * hidden]
        for a, b in [("self_attn.out_proj", "attn.out_proj"), ("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj")]:
            for w in ["weight", "bias"]:
                out[f"{dst}{b}.{w}"] = te2[f"{src}{a}.{w}"]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("[\n" + ",\n".join(json.dumps([k, v]) for k, v in sorted(out.items())) + "\n]\n")
    print(f"{OUT.relative_to(ROOT)}: {len(out)} tensors")


if __name__ == "__main__":
    main()
