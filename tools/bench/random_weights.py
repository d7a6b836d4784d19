"""Random UNet weights for the benchmarks and the GPU check: never used at run time, nothing downloaded.

Two ways to fill a diffusers UNet folder (config.json + diffusion_pytorch_model[.fp16].safetensors):

  torch   UNet2DConditionModel(**config) with torch.manual_seed(seed), then save_pretrained: diffusers' own
          initialisation, as PyTorch users get it. Needs torch + diffusers and the model in RAM (fp32).
  hash    the tensor list of the same model (built on the meta device, no memory) streamed to disk tensor by
          tensor with values from a counter-based hash: byte-identical on every machine and numpy version, so
          a folder can be re-made from its header alone (gpu_check.py does this on a machine where the
          weights did not travel). Scale follows PyTorch's default init bound U(±1/sqrt(fan_in)); norm weights
          1 + 0.1·u, other 1-D tensors 0.1·u. Peak memory is one tensor, so the full SDXL UNet (5 GB fp16)
          is fine on a small machine.

CLI:  python random_weights.py CONFIG.json OUTDIR [--init torch|hash] [--seed N] [--dtypes fp32,fp16]
Prints one JSON line: {"files": {name: {"bytes": n, "sha256": hex|null}}, "tensors": n, "params": n}.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import struct
import sys
from pathlib import Path

import numpy as np

FILE_NAMES = {"fp32": "diffusion_pytorch_model.safetensors", "fp16": "diffusion_pytorch_model.fp16.safetensors"}
ST_DTYPE = {"fp32": ("F32", np.float32), "fp16": ("F16", np.float16)}
CHUNK = 1 << 22  # elements generated at a time (bounded memory for 100M-element tensors)

M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def tensor_specs(config: dict) -> list[tuple[str, list[int]]]:
    """(key, shape) of every UNet2DConditionModel parameter for this config, sorted by key (meta device)."""
    import torch
    from diffusers import UNet2DConditionModel

    with torch.device("meta"):
        model = UNet2DConditionModel.from_config(config)
    return sorted((k, list(v.shape)) for k, v in model.state_dict().items())


def _splitmix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _key_seed(key: str, seed: int) -> np.uint64:
    h = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return np.uint64(int.from_bytes(h[:8], "little"))


def hash_values(key: str, shape: list[int], seed: int, start: int, count: int) -> np.ndarray:
    """float32 values [start, start+count) of tensor `key`: deterministic, scaled like PyTorch's default init."""
    idx = np.arange(start, start + count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        bits = _splitmix(idx * np.uint64(0x9E3779B97F4A7C15) + _key_seed(key, seed))
    u = (bits >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -24) * np.float32(2.0) - np.float32(1.0)  # [-1, 1)
    if len(shape) >= 2:
        fan_in = math.prod(shape[1:])
        return u * np.float32(1.0 / math.sqrt(fan_in))
    module, leaf = key.rsplit(".", 1) if "." in key else ("", key)
    if "norm" in module.rsplit(".", 1)[-1] and leaf == "weight":
        return np.float32(1.0) + np.float32(0.1) * u
    return np.float32(0.1) * u


def header_bytes(specs: list[tuple[str, list[int]]], st_dtype: str, elem: int, metadata: dict) -> bytes:
    header: dict = {"__metadata__": metadata}
    offset = 0
    for key, shape in specs:
        n = math.prod(shape) * elem
        header[key] = {"dtype": st_dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # data starts 8-byte aligned, as the safetensors library writes it
    return struct.pack("<Q", len(text)) + text


def write_hash_file(path: Path, specs: list[tuple[str, list[int]]], precision: str, seed: int, digest: bool) -> dict:
    st_dtype, np_dtype = ST_DTYPE[precision]
    elem = np.dtype(np_dtype).itemsize
    sha = hashlib.sha256() if digest else None
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "wb") as f:
        head = header_bytes(specs, st_dtype, elem, {"format": "pt", "source": f"tools/bench/random_weights.py hash seed={seed}"})
        f.write(head)
        if sha:
            sha.update(head)
        for key, shape in specs:
            total = math.prod(shape)
            for start in range(0, total, CHUNK):
                chunk = hash_values(key, shape, seed, start, min(CHUNK, total - start)).astype(np_dtype).tobytes()
                f.write(chunk)
                if sha:
                    sha.update(chunk)
    os.replace(tmp, path)  # nothing half-written under the real name
    return {"bytes": path.stat().st_size, "sha256": sha.hexdigest() if sha else None}


def write_torch_init(config: dict, out: Path, seed: int, precisions: list[str]) -> dict:
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    model = UNet2DConditionModel.from_config(config).eval()
    files = {}
    if "fp32" in precisions:
        model.save_pretrained(out, safe_serialization=True)
        files[FILE_NAMES["fp32"]] = None
    if "fp16" in precisions:
        model.half().save_pretrained(out, safe_serialization=True, variant="fp16")
        files[FILE_NAMES["fp16"]] = None
    return {name: {"bytes": (out / name).stat().st_size, "sha256": None} for name in files}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("config", type=Path, help="UNet config.json (diffusers keys)")
    ap.add_argument("out", type=Path, help="folder to write config.json and the weight files into")
    ap.add_argument("--init", choices=["torch", "hash"], default="torch")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtypes", default="fp32", help="comma list of fp32, fp16")
    ap.add_argument("--sha256", action="store_true", help="record each file's sha256 (hash init only)")
    a = ap.parse_args()

    precisions = [p.strip() for p in a.dtypes.split(",") if p.strip()]
    bad = [p for p in precisions if p not in FILE_NAMES]
    if bad or not precisions:
        print(f"random_weights.py: --dtypes must list fp32 and/or fp16, got {a.dtypes!r}", file=sys.stderr)
        return 2
    try:
        config = json.loads(a.config.read_text())
    except (OSError, json.JSONDecodeError) as e:
        print(f"random_weights.py: cannot read config {a.config}: {e}", file=sys.stderr)
        return 2
    a.out.mkdir(parents=True, exist_ok=True)
    config.setdefault("_class_name", "UNet2DConditionModel")
    if a.init == "torch":
        files = write_torch_init(config, a.out, a.seed, precisions)
        specs = tensor_specs(config)
    else:
        specs = tensor_specs(config)
        (a.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        files = {FILE_NAMES[p]: write_hash_file(a.out / FILE_NAMES[p], specs, p, a.seed, a.sha256) for p in precisions}
    params = sum(math.prod(s) for _, s in specs)
    print(json.dumps({"files": files, "tensors": len(specs), "params": params}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
