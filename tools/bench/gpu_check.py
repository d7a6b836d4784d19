"""One UNet step per lowering of our exported graphs, against the fp32 CPU result: error and time per lowering,
plus the same step in PyTorch diffusers for timing. Made for a machine with a GPU and Python but no Node.js.

  python3 tools/bench/gpu_check.py OUTDIR [--runs N] [--no-torch] [--cpu-only]

Also, when present in OUTDIR: tiny.json (the tiny sets' networks in the CUDA lowering with CPU references: a parity
table per network and precision) and node-pack/ (a carried Node runtime: runs bench/gpu-check-node.ts for
provider availability incl. WebGPU, the provider self-check and tiny-set parity on WebGPU/CUDA through
onnxruntime-node).

OUTDIR is what `npm run gpu-check` prepared (bench/gpu-check.ts): manifest.json, inputs.safetensors,
unet/config.json, unet/unet.<lowering>.onnx. Missing or different weight files are re-made from the manifest's
tensor list (random_weights.py, hash init, numpy only) and checked against its sha256, so only the small files
need to travel. Uses onnxruntime's CUDA provider when the installed onnxruntime has it, else the CPU provider
(the fused lowering then cannot run: com.microsoft.GroupNorm has no CPU kernel). Prints tables; asserts nothing.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import random_weights  # noqa: E402  (same folder)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            h.update(block)
    return h.hexdigest()


def ensure_weights(outdir: Path, manifest: dict) -> list[str]:
    """Re-makes weight files that are missing or differ; returns what was done, one line each."""
    notes = []
    specs = [(k, list(s)) for k, s in manifest["tensors"]]
    for rel, info in manifest["weights"].items():
        path = outdir / rel
        if path.exists() and path.stat().st_size == info["bytes"] and sha256(path) == info["sha256"]:
            notes.append(f"{rel}: present, sha256 ok")
            continue
        init = manifest.get("weightInit", {})
        if init.get("kind") != "hash":
            raise SystemExit(f"gpu_check: {path} is missing or differs from the manifest, and it was not written by "
                             "random_weights.py --init hash, so it cannot be re-made here; copy it over")
        t = time.perf_counter()
        path.parent.mkdir(parents=True, exist_ok=True)
        made = random_weights.write_hash_file(path, specs, info["precision"], init["seed"], digest=True)
        if made["sha256"] != info["sha256"] or made["bytes"] != info["bytes"]:
            raise SystemExit(f"gpu_check: re-made {path} does not match the manifest (sha256 {made['sha256']} vs "
                             f"{info['sha256']}): the export came from another random_weights.py; prepare it again")
        notes.append(f"{rel}: re-made from the manifest in {time.perf_counter() - t:.1f} s, sha256 ok")
    return notes


def load_inputs(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return {k[3:]: v for k, v in load_file(str(path)).items() if k.startswith("in.")}


def rel_error(actual: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    max_abs = float(np.max(np.abs(a - e))) if np.all(np.isfinite(a)) else float("inf")
    return max_abs / float(np.max(np.abs(e))), max_abs


def table(header: list[str], rows: list[list[str]]) -> str:
    cells = [header] + rows
    w = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (x + 2) for x in w) + "|"] + [line(r) for r in rows[0:]])


class OrtRunner:
    def __init__(self, outdir: Path, inputs: dict[str, np.ndarray], runs: int):
        import onnxruntime as ort

        self.ort = ort
        self.outdir = outdir
        self.inputs = inputs
        self.runs = runs

    def run(self, onnx_file: str, provider: str):
        """(create seconds, step seconds list, float32 output) for one session; the first run is the warm-up."""
        ort = self.ort
        so = ort.SessionOptions()
        so.log_severity_level = 3
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if provider == "cuda" else ["CPUExecutionProvider"]
        t = time.perf_counter()
        sess = ort.InferenceSession(str(self.outdir / onnx_file), so, providers=providers)
        create = time.perf_counter() - t
        if provider == "cuda" and sess.get_providers()[0] != "CUDAExecutionProvider":
            raise RuntimeError(f"CUDA provider did not start (got {sess.get_providers()})")
        feeds = {}
        for i in sess.get_inputs():
            if i.name not in self.inputs:
                raise RuntimeError(f"{onnx_file}: input {i.name} is not in inputs.safetensors")
            feeds[i.name] = self.inputs[i.name].astype(np.float16 if i.type == "tensor(float16)" else np.float32)
        times = []
        out = None
        for k in range(1 + self.runs):
            t = time.perf_counter()
            out = sess.run(["noise_pred"], feeds)[0]
            if k > 0:
                times.append(time.perf_counter() - t)
        return create, times, out.astype(np.float32)


def tiny_parity(outdir: Path, provider: str) -> str:
    """The tiny sets' networks (CUDA lowering, fp32 and fp16) on `provider` vs the CPU references made by Node."""
    import onnxruntime as ort
    from safetensors.numpy import load_file

    manifest = json.loads((outdir / "tiny.json").read_text())
    tensors = load_file(str(outdir / "tiny.safetensors"))
    rows = []
    for e in manifest["entries"]:
        so = ort.SessionOptions()
        so.log_severity_level = 3
        if provider == "cuda":
            so.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
        providers = ["CUDAExecutionProvider"] if provider == "cuda" else ["CPUExecutionProvider"]
        try:
            t = time.perf_counter()
            sess = ort.InferenceSession(str(outdir / e["file"]), so, providers=providers)
            feeds = {}
            for i in sess.get_inputs():
                v = tensors[e["inputs"][i.name]]
                feeds[i.name] = v.astype({"tensor(int64)": np.int64, "tensor(float16)": np.float16}.get(i.type, np.float32))
            outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
            ms = 1000 * (time.perf_counter() - t)
            worst = max(rel_error(outs[name].astype(np.float32), tensors[key])[0] for name, key in e["outputs"].items())
            rows.append([e["network"], e["lowering"], provider, f"{worst:.2e}", f"{ms:.0f}"])
        except Exception as ex:  # one failing graph must not hide the others
            rows.append([e["network"], e["lowering"], provider, f"FAILED: {str(ex).splitlines()[0][:120]}", "-"])
    return table(["network", "lowering", "provider", "max rel vs CPU fp32", "create+run ms"], rows)


def node_pack(outdir: Path) -> str | None:
    """Runs bench/gpu-check-node.js with the carried Node (WebGPU and CUDA through onnxruntime-node)."""
    import subprocess

    node = outdir / "node-pack" / "bin" / "node"
    script = outdir / "node-pack" / "app" / "dist" / "bench" / "gpu-check-node.js"
    if not node.exists():
        return None
    r = subprocess.run([str(node), str(script), str(outdir / "fixtures")], capture_output=True, text=True, timeout=3000)
    return r.stdout + (f"\n(stderr) {r.stderr[-2000:]}" if r.returncode != 0 else "")


def torch_rows(outdir: Path, manifest: dict, inputs: dict[str, np.ndarray], reference: np.ndarray, runs: int, cpu_only: bool):
    try:
        import torch
        import diffusers
        from diffusers import UNet2DConditionModel
    except ImportError as e:
        return [], f"PyTorch rows skipped: {e} (carry the diffusers wheel, see docs/BENCHMARKS.md)"
    device = "cuda" if torch.cuda.is_available() and not cpu_only else "cpu"
    rows = []
    for precision in (["fp32", "fp16"] if device == "cuda" else ["fp32"]):
        dtype = torch.float16 if precision == "fp16" else torch.float32
        t = time.perf_counter()
        model = UNet2DConditionModel.from_pretrained(outdir / "unet", torch_dtype=dtype,
                                                     variant="fp16" if precision == "fp16" else None).eval().to(device)
        load = time.perf_counter() - t
        x = {k: torch.from_numpy(v).to(device, torch.float32 if k in ("timestep", "time_ids") else dtype) for k, v in inputs.items()}
        added = {k: x[k] for k in ("text_embeds", "time_ids") if k in x} or None
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        times = []
        with torch.inference_mode():
            for k in range(1 + runs):
                sync()
                t = time.perf_counter()
                out = model(x["sample"], x["timestep"], x["encoder_hidden_states"], added_cond_kwargs=added).sample
                sync()
                if k > 0:
                    times.append(time.perf_counter() - t)
        rel, max_abs = rel_error(out.float().cpu().numpy(), reference)
        rows.append([f"PyTorch {precision}", device, f"{load:.2f} (load)", f"{1000 * min(times):.1f}",
                     f"{1000 * float(np.median(times)):.1f}", f"{rel:.1e}", f"{max_abs:.1e}"])
        del model
        if device == "cuda":
            torch.cuda.empty_cache()
    return rows, f"torch {torch.__version__}, diffusers {diffusers.__version__}, device {device}" + (
        f" ({torch.cuda.get_device_name(0)})" if device == "cuda" else "")


def main() -> int:
    ap = argparse.ArgumentParser(description="one UNet step per lowering vs the fp32 CPU result")
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--runs", type=int, default=3, help="timed steps per row after one warm-up (default 3)")
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch diffusers rows")
    ap.add_argument("--cpu-only", action="store_true", help="use the CPU provider even when CUDA is there")
    a = ap.parse_args()
    t_start = time.perf_counter()

    manifest_path = a.outdir / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        print(f"gpu_check: cannot read {manifest_path}: {e} (run `npm run gpu-check` first)", file=sys.stderr)
        return 2
    if manifest.get("format") != "stylestudio-gpu-check/1":
        print(f"gpu_check: {manifest_path} is not a gpu-check manifest (format {manifest.get('format')!r})", file=sys.stderr)
        return 2
    for note in ensure_weights(a.outdir, manifest):
        print(note)

    import onnxruntime as ort

    inputs = load_inputs(a.outdir / manifest["inputs"])
    cuda = "CUDAExecutionProvider" in ort.get_available_providers() and not a.cpu_only
    print(f"python {platform.python_version()}, onnxruntime {ort.__version__} (providers: {', '.join(ort.get_available_providers())}); "
          f"batch {manifest['batch']}, latent {manifest['latent']}×{manifest['latent']}")
    runner = OrtRunner(a.outdir, inputs, a.runs)
    lowerings = {l["name"]: l for l in manifest["lowerings"]}

    ref_create, ref_times, reference = runner.run(lowerings["portable-fp32"]["file"], "cpu")
    rows = [["ours portable-fp32 (reference)", "cpu", f"{ref_create:.2f}", f"{1000 * min(ref_times):.1f}",
             f"{1000 * float(np.median(ref_times)):.1f}", "0", "0"]]
    provider = "cuda" if cuda else "cpu"
    for name, l in lowerings.items():
        if name == "portable-fp32" and provider == "cpu":
            continue
        if l["kind"] == "fused" and provider == "cpu":
            rows.append([f"ours {name}", "-", "-", "-", "-", "-", "skipped: needs the CUDA/DirectML provider (com.microsoft.GroupNorm)"])
            continue
        try:
            create, times, out = runner.run(l["file"], provider)
            rel, max_abs = rel_error(out, reference)
            rows.append([f"ours {name}", provider, f"{create:.2f}", f"{1000 * min(times):.1f}",
                         f"{1000 * float(np.median(times)):.1f}", f"{rel:.1e}", f"{max_abs:.1e}"])
        except Exception as e:  # one failing lowering must not hide the others
            rows.append([f"ours {name}", provider, "-", "-", "-", "-", f"FAILED: {str(e).splitlines()[0][:160]}"])
    torch_note = "PyTorch rows skipped (--no-torch)"
    if not a.no_torch:
        extra, torch_note = torch_rows(a.outdir, manifest, inputs, reference, a.runs, a.cpu_only)
        rows.extend(extra)
    print(torch_note)
    print(table(["what", "provider", "create s", "step ms (min)", "step ms (median)", "rel err vs fp32 CPU", "max abs err"], rows))
    print(f"error = max |out − ref| / max |ref| over noise_pred")
    if (a.outdir / "tiny.json").exists():
        print(f"\ntiny-set parity through onnxruntime (Python), CUDA lowering, CPU fallback disabled on CUDA")
        print(tiny_parity(a.outdir, provider))
    node_out = node_pack(a.outdir)
    print("\n" + (node_out if node_out is not None else "no node-pack/ here: WebGPU not checked (prepare with `npm run gpu-check -- --node-pack`)"))
    print(f"total {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
