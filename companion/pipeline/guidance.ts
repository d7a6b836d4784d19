/**
 * Classifier-free guidance: ε = ε_u + g·(ε_c − ε_u). With SCFG the unconditional row was computed
 * with the negative style tokens, so the same formula cancels what the negative shares with the
 * style image (METHOD.md §2: the paper's (1+w)·ε_c − w·ε_u is this with w = g − 1).
 */
export function classifierFreeGuidance(
  batch: Float32Array, rowSize: number, uncondRow: number, condRow: number, guidance: number,
): Float32Array {
  const out = new Float32Array(rowSize);
  const u = uncondRow * rowSize;
  const c = condRow * rowSize;
  if ((Math.max(u, c) + rowSize) > batch.length) {
    throw new RangeError(`guidance rows ${uncondRow}/${condRow} of size ${rowSize} exceed a batch of ${batch.length}`);
  }
  const g = Math.fround(guidance); // torch casts the Python scalar to the tensor dtype
  for (let k = 0; k < rowSize; k++) {
    const eu = batch[u + k]!;
    // Same operation order as diffusers (uncond + g * (cond - uncond)) so float32 rounding agrees.
    out[k] = Math.fround(eu + Math.fround(g * Math.fround(batch[c + k]! - eu)));
  }
  return out;
}
