"""img2img goldens for the TypeScript pipeline (test/fixtures/golden/img2img.*).

StableDiffusionXLImg2ImgPipeline on the tiny SDXL folder (the same weights StableDiffusionXLPipeline loads), fp32,
CPU, with a seeded generator: the VAE's latent_dist.sample, the add_noise noise and (euler-a) every step's noise all
come from torch's CPU generator, which the companion reproduces bit for bit. The init image is init.png, 64x64
(written here, deterministic), so VaeImageProcessor.preprocess does not resize it. Schedulers are swapped with
`X.from_config(pipe.scheduler.config)` as a user would. One run adds the h94 IP-Adapter at scale 0.7 on every
cross-attention (style.png). output_type="latent": the final latents before the VAE decoder.

`<name>.exact.latent` (euler, dpmpp-2m-karras, ddim): the same runs in float64 with the noise still drawn in float32
(randn_tensor patched to draw float32 and cast), i.e. the answer fp32 arithmetic approximates. It tells how far
diffusers' own fp32 result is from it, the yardstick for our distance from diffusers.

Usage: python tools/golden/img2img.py GOLDEN_SET_DIR OUT_DIR   (GOLDEN_SET_DIR holds sdxl-tiny/ and ip-adapter-tiny/)
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import (DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       EulerDiscreteScheduler, StableDiffusionXLImg2ImgPipeline)
from PIL import Image
from safetensors.torch import save_file

torch.set_num_threads(1)
src, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)

# A deterministic init image with structure at several scales: two gradients, a disc and a bar.
yy, xx = np.mgrid[0:64, 0:64]
rgb = np.stack([xx * 4, yy * 4, 255 - (xx + yy) * 2], axis=-1).astype(np.float64)
disc = (xx - 40) ** 2 + (yy - 24) ** 2 < 14 ** 2
rgb[disc] = [230, 200, 40]
rgb[44:52, 8:56] = [20, 30, 90]
Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB").save(out / "init.png")
init = Image.open(out / "init.png").convert("RGB")
style = Image.open(src / "tensors" / "style.png").convert("RGB")

pipe = StableDiffusionXLImg2ImgPipeline.from_pretrained(src / "sdxl-tiny", dtype=torch.float32)
base_config = pipe.scheduler.config
common = {"prompt": "A red apple", "guidance_scale": 5.0}
runs = {
    # name: (scheduler class, extra config, seed, steps, strength, ip-adapter scale)
    "euler": (EulerDiscreteScheduler, {}, 21, 5, 0.6, None),
    "euler-a": (EulerAncestralDiscreteScheduler, {}, 22, 5, 0.6, None),
    "dpmpp-2m-karras": (DPMSolverMultistepScheduler, {"use_karras_sigmas": True}, 23, 5, 0.6, None),
    "ddim": (DDIMScheduler, {}, 24, 5, 0.6, None),
    "euler-one-step": (EulerDiscreteScheduler, {}, 25, 5, 0.3, None),
    "euler-full": (EulerDiscreteScheduler, {}, 26, 4, 1.0, None),
    "ip": (EulerDiscreteScheduler, {}, 27, 5, 0.6, 0.7),
}
tensors, inputs = {}, {**common, "height": 64, "width": 64, "init_image": "init.png", "runs": {}}
adapter_loaded = False
for name, (cls, extra, seed, steps, strength, ip_scale) in runs.items():
    pipe.scheduler = cls.from_config(base_config, **extra)
    kwargs = {}
    if ip_scale is not None:
        if not adapter_loaded:
            pipe.load_ip_adapter(str(src / "ip-adapter-tiny"), subfolder="sdxl_models", weight_name="ip-adapter_sdxl.safetensors")
            adapter_loaded = True
        pipe.set_ip_adapter_scale(ip_scale)
        kwargs["ip_adapter_image"] = style
    g = torch.Generator("cpu").manual_seed(seed)
    lat = pipe(image=init, num_inference_steps=steps, strength=strength, generator=g, output_type="latent",
               **common, **kwargs).images
    tensors[f"{name}.out.latent"] = lat.contiguous()
    inputs["runs"][name] = {"scheduler": cls.__name__, "extra_config": extra, "seed": seed, "steps": steps,
                            "strength": strength, "ip_adapter_scale": ip_scale}
# float64 reference: every module's randn_tensor draws float32 (the generator's float64 stream differs) and casts.
from diffusers.utils import torch_utils

_randn = torch_utils.randn_tensor


def randn_float32(shape, generator=None, device=None, dtype=None, layout=None):
    return _randn(shape, generator=generator, device=device, dtype=torch.float32, layout=layout).to(dtype or torch.float32)


for module in [m for n, m in sys.modules.items() if n.startswith("diffusers")]:
    if getattr(module, "randn_tensor", None) is _randn:
        module.randn_tensor = randn_float32
pipe64 = StableDiffusionXLImg2ImgPipeline.from_pretrained(src / "sdxl-tiny", dtype=torch.float32).to(torch.float64)
for name in ["euler", "dpmpp-2m-karras", "ddim"]:
    cls, extra, seed, steps, strength, _ = runs[name]
    pipe64.scheduler = cls.from_config(base_config, **extra)
    g = torch.Generator("cpu").manual_seed(seed)
    lat = pipe64(image=init, num_inference_steps=steps, strength=strength, generator=g, output_type="latent", **common).images
    tensors[f"{name}.exact.latent"] = lat.float().contiguous()
save_file(tensors, out / "img2img.safetensors", metadata={"format": "pt"})
(out / "img2img.json").write_text(json.dumps({
    "file": "img2img.safetensors",
    "description": "StableDiffusionXLImg2ImgPipeline with generator=torch.Generator('cpu').manual_seed(seed), init.png",
    "inputs": inputs,
    "tensors": {k: {"shape": list(v.shape), "dtype": "float32"} for k, v in tensors.items()},
}, indent=1) + "\n")
print("wrote", sorted(tensors))
