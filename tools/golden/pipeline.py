"""Extra pipeline goldens for the TypeScript pipeline (test/fixtures/golden/pipeline_seeded.*).

StableDiffusionXLPipeline on the tiny SDXL folder with a *seeded generator instead of explicit latents*, so the
starting noise and (for ancestral samplers) every step's noise come from torch's CPU generator, for several
schedulers built with `X.from_config(pipe.scheduler.config)` as a user would swap them. fp32, CPU, 4 steps,
guidance 5, negative prompt None (zero embeddings), 64x64, output_type="latent".

Usage: python tools/golden/pipeline.py GOLDEN_SET_DIR OUT_DIR   (GOLDEN_SET_DIR holds sdxl-tiny/)
"""
import json
import sys
from pathlib import Path

import torch
from diffusers import (DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       EulerDiscreteScheduler, StableDiffusionXLPipeline)
from safetensors.torch import save_file

torch.set_num_threads(1)
src, out = Path(sys.argv[1]), Path(sys.argv[2])
pipe = StableDiffusionXLPipeline.from_pretrained(src / "sdxl-tiny", dtype=torch.float32)
base_config = pipe.scheduler.config
runs = {
    "euler": (EulerDiscreteScheduler, {}, 5),
    "euler-a": (EulerAncestralDiscreteScheduler, {}, 6),
    "dpmpp-2m-karras": (DPMSolverMultistepScheduler, {"use_karras_sigmas": True}, 7),
    "ddim": (DDIMScheduler, {}, 8),
}
tensors, inputs = {}, {"prompt": "A red apple", "negative_prompt": None, "steps": 4, "guidance_scale": 5.0,
                       "height": 64, "width": 64, "runs": {}}
for name, (cls, extra, seed) in runs.items():
    pipe.scheduler = cls.from_config(base_config, **extra)
    g = torch.Generator("cpu").manual_seed(seed)
    lat = pipe(prompt="A red apple", num_inference_steps=4, guidance_scale=5.0, height=64, width=64,
               generator=g, output_type="latent").images
    tensors[f"{name}.out.latent"] = lat.contiguous()
    inputs["runs"][name] = {"scheduler": cls.__name__, "extra_config": extra, "seed": seed}
out.mkdir(parents=True, exist_ok=True)
save_file(tensors, out / "pipeline_seeded.safetensors", metadata={"format": "pt"})
(out / "pipeline_seeded.json").write_text(json.dumps({
    "file": "pipeline_seeded.safetensors",
    "description": "StableDiffusionXLPipeline with generator=torch.Generator('cpu').manual_seed(seed), no explicit latents",
    "inputs": inputs,
    "tensors": {k: {"shape": list(v.shape), "dtype": "float32"} for k, v in tensors.items()},
}, indent=1) + "\n")
print("wrote", sorted(tensors))
