/** Comparing tensors across providers: float decoding (fp16 bits included) and the error measures we report. */
import { float16BitsToNumber, float32ToFloat16Bits } from '../rng/float16';
import type { TensorData } from './session-protocol';

/** The tensor's values as float32 (float16 bits decoded). */
export function toFloat32(t: TensorData): Float32Array {
  if (t.dtype === 'float32') return t.data as Float32Array;
  if (t.dtype === 'float16') {
    const bits = t.data as Uint16Array;
    const out = new Float32Array(bits.length);
    for (let i = 0; i < bits.length; i++) out[i] = float16BitsToNumber(bits[i]!);
    return out;
  }
  if (t.dtype === 'float64') return Float32Array.from(t.data as Float64Array);
  throw new Error(`toFloat32: ${t.dtype} is not a float tensor`);
}

/** float32 values as a tensor of `dtype` ('float16': rounded to nearest even). */
export function floatTensor(dtype: 'float32' | 'float16', dims: readonly number[], values: Float32Array): TensorData {
  if (dtype === 'float32') return { dtype, dims, data: values };
  const bits = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) bits[i] = float32ToFloat16Bits(values[i]!);
  return { dtype, dims, data: bits };
}

export interface ErrorStats {
  /** max |a − e| / max |e|: the error relative to the tensor's scale (the figure our bounds use). */
  readonly maxRel: number;
  /** ‖a − e‖₂ / ‖e‖₂. */
  readonly relL2: number;
  readonly maxAbs: number;
}

/** Error of `actual` against `expected`; NaN or ±Inf anywhere (or a length mismatch) gives Infinity. */
export function errorStats(actual: ArrayLike<number>, expected: ArrayLike<number>): ErrorStats {
  if (actual.length !== expected.length) return { maxRel: Infinity, relL2: Infinity, maxAbs: Infinity };
  let maxAbs = 0;
  let maxRef = 0;
  let num = 0;
  let den = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const d = Math.abs(a - e);
    if (!Number.isFinite(d)) return { maxRel: Infinity, relL2: Infinity, maxAbs: Infinity };
    if (d > maxAbs) maxAbs = d;
    if (Math.abs(e) > maxRef) maxRef = Math.abs(e);
    num += d * d;
    den += e * e;
  }
  const scale = maxRef > 0 ? maxRef : 1;
  return { maxRel: maxAbs / scale, relL2: den > 0 ? Math.sqrt(num / den) : Math.sqrt(num), maxAbs };
}

/** Deterministic floats in [lo, hi) from a 32-bit LCG (self-checks and probes need no test helpers). */
export function lcgFloats(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (hi - lo) * (s / 2 ** 32);
  }
  return out;
}
