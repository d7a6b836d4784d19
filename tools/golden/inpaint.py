"""Inpainting goldens for a 4-channel UNet (test/fixtures/golden/inpaint.*).

StableDiffusionXLInpaintPipeline on the tiny SDXL folder, fp32, CPU, seeded generator (the VAE samples of the image
and of the masked image, the noise and the ancestral noise all from torch's CPU generator), init.png (img2img.py)
and mask.png (written here: an antialiased ellipse, L mode, 64x64; the pipeline binarises it at 0.5 and the latent
mask is its nearest-neighbour sample every 8 pixels). Per step the latents outside the mask are replaced by the image
latents noised to the next step (diffusers' blending for num_channels_unet == 4). output_type="latent".

Usage: python tools/golden/inpaint.py GOLDEN_SET_DIR OUT_DIR   (OUT_DIR holds init.png)
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import DDIMScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler, StableDiffusionXLInpaintPipeline
from PIL import Image
from safetensors.torch import save_file

torch.set_num_threads(1)
src, out = Path(sys.argv[1]), Path(sys.argv[2])
yy, xx = np.mgrid[0:64, 0:64]
d = np.sqrt(((xx - 30.5) / 22) ** 2 + ((yy - 34.5) / 16) ** 2)
Image.fromarray((np.clip((1.0 - d) * 6 + 0.5, 0, 1) * 255).round().astype(np.uint8), "L").save(out / "mask.png")
init = Image.open(out / "init.png").convert("RGB")
mask = Image.open(out / "mask.png")
pipe = StableDiffusionXLInpaintPipeline.from_pretrained(src / "sdxl-tiny", dtype=torch.float32)
base_config = pipe.scheduler.config
runs = {
    "euler": (EulerDiscreteScheduler, 51, 5, 0.6),
    "euler-a": (EulerAncestralDiscreteScheduler, 52, 5, 0.6),
    "euler-full": (EulerDiscreteScheduler, 53, 4, 1.0),
    "ddim": (DDIMScheduler, 54, 5, 0.6),
}
tensors, inputs = {}, {"prompt": "A red apple", "guidance_scale": 5.0, "height": 64, "width": 64, "image": "init.png",
                       "mask_image": "mask.png", "runs": {}}
for name, (cls, seed, steps, strength) in runs.items():
    pipe.scheduler = cls.from_config(base_config)
    g = torch.Generator("cpu").manual_seed(seed)
    lat = pipe(prompt="A red apple", image=init, mask_image=mask, num_inference_steps=steps, strength=strength,
               guidance_scale=5.0, height=64, width=64, generator=g, output_type="latent").images
    tensors[f"{name}.out.latent"] = lat.contiguous()
    inputs["runs"][name] = {"scheduler": cls.__name__, "seed": seed, "steps": steps, "strength": strength}
save_file(tensors, out / "inpaint.safetensors", metadata={"format": "pt"})
(out / "inpaint.json").write_text(json.dumps({
    "file": "inpaint.safetensors",
    "description": "StableDiffusionXLInpaintPipeline (4-channel UNet: per-step masked latent blending), seeded",
    "inputs": inputs,
    "tensors": {k: {"shape": list(v.shape), "dtype": "float32"} for k, v in tensors.items()},
}, indent=1) + "\n")
print("wrote", sorted(tensors))
