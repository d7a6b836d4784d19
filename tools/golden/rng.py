"""Golden tensors for companion/rng: torch.randn on torch.Generator('cpu').manual_seed(seed).

Writes test/fixtures/golden/rng-many.safetensors + rng-many.json (sidecar listing every case).
Small shapes are stored in full for every seed and dtype; the big shapes are stored in full for one
seed and as sha256 of the float32 bytes (+ the first and last 16 values) for the others, to keep
the fixture small. Run with the reference venv:  /work/venv/bin/python tools/golden/rng.py
Note: the numbers depend on torch's CPU kernel (x86 AVX2 build here); see companion/rng/randn.ts.
"""
import hashlib
import json
import os
import random

import torch
from safetensors.torch import save_file

OUT_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "golden")

rnd = random.Random(20261126)
SEEDS = [0, 1, 42, 2**32 - 1, 2**32, 2**32 + 7, 2**63 + 5, 2**64 - 1, -1, -(2**63)] + [
    rnd.randrange(0, 2**64) for _ in range(4)
] + [rnd.randrange(0, 2**31) for _ in range(4)]
SMALL_SHAPES = [(1,), (2,), (7,), (15,), (16,), (17,), (31,), (32,), (33,), (1, 4, 8, 8), (3, 5, 7)]
BIG_SHAPES = [(1, 4, 128, 128), (2, 4, 64, 96)]
# stored in full for one seed; the shared golden (rng.safetensors) already has 1x4x128x128 in full for 4 seeds
FULL_BIG_SEED, FULL_BIG_SHAPE = 2**63 + 5, (2, 4, 64, 96)


def gen(seed):
    return torch.Generator("cpu").manual_seed(seed)


def key_shape(shape):
    return "x".join(str(d) for d in shape)


def main():
    tensors = {}
    cases = []
    for seed in SEEDS:
        for shape in SMALL_SHAPES:
            for dtype in (torch.float32, torch.float16):
                name = f"randn.s{seed}.{key_shape(shape)}.{str(dtype)[6:]}"
                tensors[name] = torch.randn(shape, generator=gen(seed), dtype=dtype).contiguous()
                cases.append({"name": name, "seed": str(seed), "shape": list(shape), "dtype": str(dtype)[6:]})
        for shape in BIG_SHAPES:
            t = torch.randn(shape, generator=gen(seed))
            raw = t.numpy().tobytes()
            case = {"seed": str(seed), "shape": list(shape), "dtype": "float32",
                    "sha256": hashlib.sha256(raw).hexdigest()}
            flat = t.reshape(-1)
            head, tail = f"randn.s{seed}.{key_shape(shape)}.head16", f"randn.s{seed}.{key_shape(shape)}.tail16"
            tensors[head], tensors[tail] = flat[:16].clone(), flat[-16:].clone()
            case["head"], case["tail"] = head, tail
            if seed == FULL_BIG_SEED and shape == FULL_BIG_SHAPE:
                name = f"randn.s{seed}.{key_shape(shape)}.float32"
                tensors[name] = t.contiguous()
                case["name"] = name
            cases.append(case)

    # Consecutive draws from one generator: the scalar path's cached sine must carry over between
    # calls, the vector path must not touch it, and float16 must consume uniforms its own way.
    seq_plan = [((7,), "float32"), ((1,), "float32"), ((33,), "float32"), ((3,), "float32"),
                ((5,), "float16"), ((20,), "float16"), ((1, 4, 8, 8), "float32"), ((1,), "float32"),
                ("rand", (9,)), ((2,), "float32")]
    seqs = []
    for seed in (42, 2**32 + 7):
        g = gen(seed)
        steps = []
        for i, step in enumerate(seq_plan):
            name = f"seq.s{seed}.{i}"
            if step[0] == "rand":
                tensors[name] = torch.rand(step[1], generator=g)
                steps.append({"name": name, "op": "rand", "shape": list(step[1]), "dtype": "float32"})
            else:
                shape, dtype = step
                tensors[name] = torch.randn(shape, generator=g, dtype=getattr(torch, dtype))
                steps.append({"name": name, "op": "randn", "shape": list(shape), "dtype": dtype})
        seqs.append({"seed": str(seed), "steps": steps})

    for seed in (0, 3):
        name = f"rand.s{seed}.40"
        tensors[name] = torch.rand((40,), generator=gen(seed))
        cases.append({"name": name, "op": "rand", "seed": str(seed), "shape": [40], "dtype": "float32"})

    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, "rng-many.safetensors")
    save_file(tensors, path)
    os.chmod(path, 0o644)
    sidecar = {
        "description": "torch.randn(shape, generator=torch.Generator('cpu').manual_seed(seed), dtype=dtype), "
                       "fresh generator per case; 'seqs' are consecutive draws from one generator.",
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cases": cases,
        "seqs": seqs,
    }
    with open(os.path.join(OUT_DIR, "rng-many.json"), "w") as f:
        json.dump(sidecar, f, indent=1)
        f.write("\n")
    print(f"wrote {len(tensors)} tensors")


if __name__ == "__main__":
    main()
