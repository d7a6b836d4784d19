"""Fixtures for companion/weights: tiny torch.save checkpoints and reference digests.

Writes into test/fixtures/weights/ (run from the repository root with the reference venv):
    /work/venv/bin/python tools/golden/weights.py

  nested.bin / nested.safetensors     IP-Adapter-shaped nested dict ({"image_proj": {...}, "ip_adapter": {...}}),
                                      F16/F32/BF16/I64, a 0-d tensor, views with storage_offset into one shared
                                      storage; the .safetensors twin holds the same tensors under the flattened keys
  state-dict.bin                      a module's state_dict() (an OrderedDict with _metadata, nn.Parameter-free)
  noncontiguous.bin                   a transposed view: must be refused (not zero-copy)
  malicious.bin                       a pickle calling os.system: must be refused without running anything
  compressed.bin                      nested.bin with its entries deflated: storages must be STORED to be referenced
  legacy.bin                          the pre-1.6 non-zip torch.save format: refused with a clear message
  zip64.bin                           nested.bin rewritten with zip64 records (size/offset fields saturated), as
                                      torch writes checkpoints over 4 GB
  ip-adapter_sdxl.bin                 test/fixtures/ip-adapter-tiny/sdxl_models/ip-adapter_sdxl.safetensors saved the way
                                      h94 ships its .bin: {"image_proj": {...}, "ip_adapter": {...}}, fp16
  safetensors-digests.json            sha256 of every tensor's bytes in the sdxl-tiny / image-encoder fixtures,
                                      read through the `safetensors` Python package (an independent reader)

Only torch, safetensors and the standard library are used; nothing is downloaded. Seeded and timestamp-free, so
reruns give the same bytes, except legacy.bin (the old format records Python object ids).
"""
import hashlib
import json
import os
import pathlib
import zipfile
from collections import OrderedDict

import torch
from safetensors import safe_open
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "weights"


class Evil:
    """Unpickling this runs `os.system`: a reader that executes pickles would run the command."""

    def __reduce__(self):
        return (os.system, ("echo stylestudio-pwned > /tmp/stylestudio-pwned",))


def nested_checkpoint():
    g = torch.Generator().manual_seed(1234)
    shared = torch.randn(40, generator=g)  # one storage, several views into it
    return {
        "image_proj": OrderedDict(
            [
                ("proj.weight", torch.randn(8, 4, generator=g).half()),
                ("proj.bias", torch.randn(8, generator=g)),
                ("norm.weight", torch.randn(4, generator=g).to(torch.bfloat16)),
                ("norm.bias", shared[3:7]),  # storage_offset 3
            ]
        ),
        "ip_adapter": {
            "1.to_k_ip.weight": shared[8:20].view(3, 4),  # storage_offset 8, shares `shared`'s storage
            "1.to_v_ip.weight": shared[20:32].view(3, 4),
            "3.to_k_ip.weight": torch.randn(2, 2, 3, generator=g).half(),
        },
        "step": torch.tensor(7, dtype=torch.int64),  # 0-d
    }


def fixed_time(name, compression):
    """A zip entry header with a fixed timestamp, so rewritten archives are byte-stable across runs."""
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = compression
    return info


def flatten(tree, prefix=""):
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value.contiguous().clone()
    return out


def digest(path):
    result = {}
    with safe_open(str(path), framework="pt") as f:
        for key in f.keys():
            t = f.get_tensor(key)
            raw = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
            result[key] = {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
                           "sha256": hashlib.sha256(raw).hexdigest()}
    return result


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    ckpt = nested_checkpoint()
    torch.save(ckpt, OUT / "nested.bin")
    save_file(flatten(ckpt), str(OUT / "nested.safetensors"))

    torch.manual_seed(1)
    module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
    torch.save(module.state_dict(), OUT / "state-dict.bin")

    torch.save({"w": torch.arange(6, dtype=torch.float32).view(2, 3).t()}, OUT / "noncontiguous.bin")
    torch.save({"w": torch.zeros(2), "payload": Evil()}, OUT / "malicious.bin")
    torch.save({"w": torch.zeros(2)}, OUT / "legacy.bin", _use_new_zipfile_serialization=False)

    with zipfile.ZipFile(OUT / "nested.bin") as src, zipfile.ZipFile(OUT / "compressed.bin", "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(fixed_time(info.filename, zipfile.ZIP_DEFLATED), src.read(info.filename))

    # zipfile switches to zip64 fields above ZIP64_LIMIT; lowering it gives a tiny file with the > 4 GB layout.
    saved_limit = zipfile.ZIP64_LIMIT
    zipfile.ZIP64_LIMIT = 16
    try:
        with zipfile.ZipFile(OUT / "nested.bin") as src, zipfile.ZipFile(OUT / "zip64.bin", "w", zipfile.ZIP_STORED) as dst:
            for info in src.infolist():
                dst.writestr(fixed_time(info.filename, zipfile.ZIP_STORED), src.read(info.filename))
    finally:
        zipfile.ZIP64_LIMIT = saved_limit
    with zipfile.ZipFile(OUT / "zip64.bin") as check:  # the standard reader agrees with the layout
        assert check.read("nested/data/0") == zipfile.ZipFile(OUT / "nested.bin").read("nested/data/0")

    adapter = {"image_proj": {}, "ip_adapter": {}}
    adapter_st = ROOT / "test" / "fixtures" / "ip-adapter-tiny" / "sdxl_models" / "ip-adapter_sdxl.safetensors"
    with safe_open(str(adapter_st), framework="pt") as f:
        for key in f.keys():
            group, rest = key.split(".", 1)
            adapter[group][rest] = f.get_tensor(key)
    torch.save(adapter, OUT / "ip-adapter_sdxl.bin")

    digests = {}
    for rel in ["sdxl-tiny/text_encoder/model.safetensors", "sdxl-tiny/text_encoder/model.fp16.safetensors",
                "sdxl-tiny/text_encoder_2/model.safetensors", "sdxl-tiny/text_encoder_2/model.fp16.safetensors",
                "sdxl-tiny/vae/diffusion_pytorch_model.safetensors",
                "sdxl-tiny/vae/diffusion_pytorch_model.fp16.safetensors",
                "ip-adapter-tiny/sdxl_models/image_encoder/model.safetensors",
                "weights/nested.safetensors"]:
        digests[rel] = digest(ROOT / "test" / "fixtures" / rel)
    (OUT / "safetensors-digests.json").write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
