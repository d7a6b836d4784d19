"""Golden schedules and step outputs from diffusers for companion/schedulers.

Writes test/fixtures/golden/schedulers.safetensors + schedulers.json. Every variant starts from SDXL's
scheduler_config.json (test/fixtures/golden/sdxl-scheduler_config.json), applies a few overrides and is
built with the diffusers class named in the sidecar, via from_config like a user switching schedulers.
For 1, 4, 30 and 50 steps it records timesteps, sigmas, init_noise_sigma, scale_model_input at two
steps, and the prev_sample of a full sampling loop at selected steps (plus the sample that went into
those steps and the steps before them, so each step can be checked on diffusers' own inputs), where
  sample_0       = randn(SAMPLE_SHAPE, seed 7) * init_noise_sigma
  model_output_i = randn(SAMPLE_SHAPE, seed 1000 + i)
  ancestral noise: one torch.Generator seeded 1234, passed to every step (as a pipeline does)
(all randn from torch.Generator('cpu').manual_seed(seed), so the tests regenerate them with companion/rng).
Run: /work/venv/bin/python tools/golden/schedulers.py
"""
import json
import os

import diffusers
import numpy as np
import torch
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
FIXTURES = os.path.join(ROOT, "test", "fixtures", "golden")
SAMPLE_SHAPE = (1, 4, 4, 6)
STEP_COUNTS = (1, 4, 30, 50)
ANCESTRAL_SEED = 1234

# name -> (diffusers class, our scheduler name, config overrides)
VARIANTS = {
    "euler": (EulerDiscreteScheduler, "euler", {}),
    "euler_karras": (EulerDiscreteScheduler, "euler", {"use_karras_sigmas": True}),
    "euler_trailing": (EulerDiscreteScheduler, "euler", {"timestep_spacing": "trailing"}),
    "euler_linspace_vpred": (EulerDiscreteScheduler, "euler", {"timestep_spacing": "linspace", "prediction_type": "v_prediction"}),
    "euler_linear_sigma_min": (EulerDiscreteScheduler, "euler", {"beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02,
                                                                 "final_sigmas_type": "sigma_min"}),
    "euler_a": (EulerAncestralDiscreteScheduler, "euler-a", {}),
    "euler_a_trailing_vpred": (EulerAncestralDiscreteScheduler, "euler-a", {"timestep_spacing": "trailing", "prediction_type": "v_prediction"}),
    "dpmpp_2m": (DPMSolverMultistepScheduler, "dpmpp-2m", {}),
    "dpmpp_2m_karras": (DPMSolverMultistepScheduler, "dpmpp-2m-karras", {"use_karras_sigmas": True}),
    "dpmpp_2m_trailing_no_lof": (DPMSolverMultistepScheduler, "dpmpp-2m", {"timestep_spacing": "trailing", "lower_order_final": False}),
    "dpmpp_2m_linspace_vpred_sigma_min": (DPMSolverMultistepScheduler, "dpmpp-2m", {"timestep_spacing": "linspace", "prediction_type": "v_prediction",
                                                                                    "final_sigmas_type": "sigma_min"}),
    "dpmpp_2m_cosine_clipped": (DPMSolverMultistepScheduler, "dpmpp-2m", {"beta_schedule": "squaredcos_cap_v2",
                                                                                    "lambda_min_clipped": -5.1}),
    "euler_a_cosine_linspace": (EulerAncestralDiscreteScheduler, "euler-a", {"beta_schedule": "squaredcos_cap_v2", "timestep_spacing": "linspace"}),
    "ddim": (DDIMScheduler, "ddim", {}),
    "ddim_trailing_alpha_one": (DDIMScheduler, "ddim", {"timestep_spacing": "trailing", "set_alpha_to_one": True}),
    "ddim_linspace_clip_vpred": (DDIMScheduler, "ddim", {"timestep_spacing": "linspace", "clip_sample": True, "prediction_type": "v_prediction"}),
}


def randn(seed):
    return torch.randn(SAMPLE_SHAPE, generator=torch.Generator("cpu").manual_seed(seed))


def recorded_steps(n):
    return sorted({i for i in (0, 1, 2, n // 2, n - 2, n - 1) if 0 <= i < n})


def main():
    with open(os.path.join(FIXTURES, "sdxl-scheduler_config.json")) as f:
        base = json.load(f)
    tensors = {}
    variants = []
    for name, (cls, ours, overrides) in VARIANTS.items():
        config = {**base, **overrides}
        runs = []
        for n in STEP_COUNTS:
            sched = cls.from_config(config)
            sched.set_timesteps(n)
            key = f"{name}.n{n}"
            tensors[f"{key}.timesteps"] = sched.timesteps.to(torch.float64).clone()
            if hasattr(sched, "sigmas") and cls is not DDIMScheduler:
                tensors[f"{key}.sigmas"] = sched.sigmas.to(torch.float32).clone()
            init = sched.init_noise_sigma
            init = float(init.item() if torch.is_tensor(init) else init)
            sample = randn(7) * sched.init_noise_sigma
            gen = torch.Generator("cpu").manual_seed(ANCESTRAL_SEED)
            rec = recorded_steps(n)
            scale_at = sorted({0, n // 2})
            inputs_at = sorted(set(rec) | {i - 1 for i in rec if i >= 1})
            for i, t in enumerate(sched.timesteps):
                if i in inputs_at:
                    tensors[f"{key}.step{i}.sample_in"] = sample.clone()
                scaled = sched.scale_model_input(sample, t)
                if i in scale_at:
                    tensors[f"{key}.step{i}.scaled"] = scaled.clone()
                model_output = randn(1000 + i)
                kwargs = {"generator": gen} if cls is EulerAncestralDiscreteScheduler else {}
                out = sched.step(model_output, t, sample, **kwargs)
                sample = out.prev_sample
                if i in rec:
                    tensors[f"{key}.step{i}.prev_sample"] = sample.clone()
                    if hasattr(out, "pred_original_sample") and out.pred_original_sample is not None:
                        tensors[f"{key}.step{i}.pred_original_sample"] = out.pred_original_sample.clone()
            runs.append({"steps": n, "key": key, "init_noise_sigma": init, "recorded_steps": rec, "scaled_steps": scale_at,
                         "input_steps": inputs_at})
        variants.append({"name": name, "class": cls.__name__, "scheduler": ours, "overrides": overrides, "runs": runs})

    path = os.path.join(FIXTURES, "schedulers.safetensors")
    save_file({k: v.contiguous() for k, v in tensors.items()}, path)
    os.chmod(path, 0o644)
    sidecar = {
        "description": __doc__.strip().splitlines()[0],
        "diffusers": diffusers.__version__,
        "torch": torch.__version__,
        "sample_shape": list(SAMPLE_SHAPE),
        "sample_seed": 7,
        "model_output_seed_base": 1000,
        "ancestral_seed": ANCESTRAL_SEED,
        "variants": variants,
    }
    with open(os.path.join(FIXTURES, "schedulers.json"), "w") as f:
        json.dump(sidecar, f, indent=1)
        f.write("\n")
    print(f"wrote {len(tensors)} tensors for {len(variants)} variants")


if __name__ == "__main__":
    main()
