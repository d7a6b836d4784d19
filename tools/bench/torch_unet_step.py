"""One UNet step in PyTorch diffusers, timed: the reference side of `npm run bench` (bench/run.ts).

  python torch_unet_step.py UNET_DIR --batch B --height H --width W --threads T [--runs N] [--warmup K]
                            [--io FILE] [--seed S] [--dtype fp32|fp16] [--device cpu|cuda]

Loads UNet2DConditionModel from UNET_DIR (config.json + diffusion_pytorch_model[.fp16].safetensors), makes
seeded inputs (sample, timestep 500, encoder_hidden_states, and for SDXL-type configs text_embeds + time_ids),
times `runs` forward passes after `warmup`, and with --io writes the inputs and the last noise_pred (float32)
to a safetensors file so the ONNX side can run the same inputs and compare. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def make_inputs(config: dict, batch: int, height: int, width: int, seed: int):
    import torch

    g = torch.Generator("cpu").manual_seed(seed)
    feeds = {
        "sample": torch.randn(batch, config["in_channels"], height, width, generator=g),
        "timestep": torch.full((batch,), 500.0),
        "encoder_hidden_states": torch.randn(batch, 77, config["cross_attention_dim"], generator=g),
    }
    if config.get("addition_embed_type") == "text_time":
        pooled = config["projection_class_embeddings_input_dim"] - 6 * config["addition_time_embed_dim"]
        feeds["text_embeds"] = torch.randn(batch, pooled, generator=g)
        size = [height * 8, width * 8, 0, 0, height * 8, width * 8]  # original size, crop, target size
        feeds["time_ids"] = torch.tensor([size] * batch, dtype=torch.float32)
    return feeds


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("unet_dir", type=Path)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--height", type=int, default=32)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch's default)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--io", type=Path, help="write inputs and noise_pred here (safetensors)")
    ap.add_argument("--dtype", choices=["fp32", "fp16"], default="fp32")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()

    import torch
    import diffusers
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file

    if a.threads > 0:
        torch.set_num_threads(a.threads)
        torch.set_num_interop_threads(1)
    config = json.loads((a.unet_dir / "config.json").read_text())
    t0 = time.perf_counter()
    dtype = torch.float16 if a.dtype == "fp16" else torch.float32
    model = UNet2DConditionModel.from_pretrained(a.unet_dir, torch_dtype=dtype, variant="fp16" if a.dtype == "fp16" else None)
    model = model.eval().to(a.device)
    load_s = time.perf_counter() - t0

    feeds = make_inputs(config, a.batch, a.height, a.width, a.seed)
    dev = {k: v.to(a.device, dtype if k != "timestep" else torch.float32) for k, v in feeds.items()}
    added = {k: dev[k] for k in ("text_embeds", "time_ids") if k in dev} or None
    sync = torch.cuda.synchronize if a.device.startswith("cuda") else (lambda: None)
    times = []
    with torch.inference_mode():
        for i in range(a.warmup + a.runs):
            sync()
            t = time.perf_counter()
            out = model(dev["sample"], dev["timestep"], dev["encoder_hidden_states"], added_cond_kwargs=added).sample
            sync()
            if i >= a.warmup:
                times.append(time.perf_counter() - t)
    if a.io:
        tensors = {f"in.{k}": v.contiguous() for k, v in feeds.items()}
        tensors["out.noise_pred"] = out.float().cpu().contiguous()
        save_file(tensors, str(a.io))
    print(json.dumps({
        "load_s": load_s, "times_s": times, "threads": torch.get_num_threads(),
        "torch": torch.__version__, "diffusers": diffusers.__version__, "device": a.device, "dtype": a.dtype,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
