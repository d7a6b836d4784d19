"""Several style images for one IP-Adapter (test/fixtures/golden/multi_ip.*).

StableDiffusionXLPipeline on the tiny SDXL folder with the tiny h94 IP-Adapter (scale 0.7 on every cross-attention),
`ip_adapter_image=[[a, b, ...]]`: one adapter, several images. diffusers encodes each image, projects each, and its
attention processor reshapes [batch, images, tokens, dim] to one sequence, so the images' tokens are concatenated in
order and share one softmax; the unconditional side has zero image embeddings per image. fp32, CPU, seeded
generator, 4 Euler steps, guidance 5, 64x64, output_type="latent". Images: style.png, neg_style.png (as a second
reference) and init.png (written by img2img.py).

Usage: python tools/golden/multi_ip.py GOLDEN_SET_DIR OUT_DIR   (OUT_DIR holds init.png)
"""
import json
import sys
from pathlib import Path

import torch
from diffusers import StableDiffusionXLPipeline
from PIL import Image
from safetensors.torch import save_file

torch.set_num_threads(1)
src, out = Path(sys.argv[1]), Path(sys.argv[2])
image = lambda p: Image.open(p).convert("RGB")
images = {"style": image(src / "tensors" / "style.png"), "neg_style": image(src / "tensors" / "neg_style.png"),
          "init": image(out / "init.png")}
pipe = StableDiffusionXLPipeline.from_pretrained(src / "sdxl-tiny", dtype=torch.float32)
pipe.load_ip_adapter(str(src / "ip-adapter-tiny"), subfolder="sdxl_models", weight_name="ip-adapter_sdxl.safetensors")
pipe.set_ip_adapter_scale(0.7)
runs = {"two": (["style", "neg_style"], 41), "three": (["style", "neg_style", "init"], 42)}
tensors, inputs = {}, {"prompt": "A red apple", "steps": 4, "guidance_scale": 5.0, "height": 64, "width": 64,
                       "ip_adapter_scale": 0.7, "runs": {}}
for name, (names, seed) in runs.items():
    g = torch.Generator("cpu").manual_seed(seed)
    lat = pipe(prompt="A red apple", num_inference_steps=4, guidance_scale=5.0, height=64, width=64, generator=g,
               ip_adapter_image=[[images[n] for n in names]], output_type="latent").images
    tensors[f"{name}.out.latent"] = lat.contiguous()
    inputs["runs"][name] = {"images": [f"{n}.png" for n in names], "seed": seed}
save_file(tensors, out / "multi_ip.safetensors", metadata={"format": "pt"})
(out / "multi_ip.json").write_text(json.dumps({
    "file": "multi_ip.safetensors",
    "description": "StableDiffusionXLPipeline + load_ip_adapter (scale 0.7), ip_adapter_image=[[images...]], seeded",
    "inputs": inputs,
    "tensors": {k: {"shape": list(v.shape), "dtype": "float32"} for k, v in tensors.items()},
}, indent=1) + "\n")
print("wrote", sorted(tensors))
