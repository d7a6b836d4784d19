/**
 * Tolerance checks for scheduler goldens. Tables (timesteps, sigmas) are compared element by element,
 * relative to each element; tensors relative to the tensor's largest magnitude (a per-element relative
 * error is meaningless for values that cross zero).
 */

export const REL_TOL = 1e-6;

/** NaN matches NaN and an infinity the same infinity (diffusers itself overflows on extreme configs). */
function sameSpecial(a: number, b: number): boolean | undefined {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b;
  return undefined;
}

/** Largest |a - b| / |b| over elements (0 where both are 0); throws on a length mismatch. */
export function maxElementRelError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} != expected ${want.length}`);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const special = sameSpecial(got[i]!, w);
    if (special !== undefined) {
      if (!special) return Infinity;
      continue;
    }
    const d = Math.abs(got[i]! - w);
    if (d === 0) continue;
    worst = Math.max(worst, w === 0 ? Infinity : d / Math.abs(w));
  }
  return worst;
}

/** max |a - b| / max |b| */
export function maxScaledError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} != expected ${want.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    const special = sameSpecial(got[i]!, want[i]!);
    if (special !== undefined) {
      if (!special) return Infinity;
      continue;
    }
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return scale === 0 ? (diff === 0 ? 0 : Infinity) : diff / scale;
}
