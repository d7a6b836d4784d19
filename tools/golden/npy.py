"""Writes small .npy files with numpy itself, so the TypeScript reader is checked against the real format."""
import pathlib
import numpy as np

out = pathlib.Path(__file__).resolve().parents[2] / "test" / "fixtures" / "npy"
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(5)
np.save(out / "latents_1x4x8x8.npy", rng.standard_normal((1, 4, 8, 8)).astype(np.float32))
np.save(out / "vector_7.npy", np.arange(7, dtype=np.float32) / 3)
np.save(out / "float64.npy", np.zeros((2, 2), dtype=np.float64))
np.save(out / "fortran.npy", np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
