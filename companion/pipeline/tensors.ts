/**
 * Small host-side tensor helpers for the sampling loop: feeds in a graph's compute dtype (fp16 graphs take
 * float16 bits), outputs back to float32, and row stacking. Everything here works on latent-sized arrays
 * (a few hundred KiB at 1024²); the heavy work stays in the session workers.
 */
import type { TensorData } from '../onnx/session';
import { float16BitsToNumber, float32ToFloat16Bits } from '../rng/float16';

export type ComputeType = 'float32' | 'float16';

/** A float feed in `dtype`: float32 as is, float16 as rounded bits. */
export function floatFeed(dtype: ComputeType, dims: readonly number[], values: Float32Array): TensorData {
  if (dtype === 'float32') return { dtype, dims, data: values };
  return { dtype, dims, data: Uint16Array.from(values, float32ToFloat16Bits) };
}

/** Any float output as float32 values (float16 bits widened exactly). */
export function toFloat32(t: TensorData | undefined, what: string): Float32Array {
  if (t === undefined) throw new Error(`session returned no ${what}`);
  if (t.dtype === 'float32') {
    const d = t.data as ArrayBufferView & { readonly length: number };
    // Arrays from a worker may belong to another realm (e.g. under jest's vm): rewrap the same buffer.
    return d instanceof Float32Array ? d : new Float32Array(d.buffer, d.byteOffset, d.length);
  }
  if (t.dtype === 'float16') return Float32Array.from(t.data as Uint16Array, float16BitsToNumber);
  throw new Error(`${what} has dtype ${t.dtype}, expected a float tensor`);
}

/** Row-major concatenation of equally sized rows. */
export function stackRows(rows: readonly Float32Array[]): Float32Array {
  const size = rows[0]?.length ?? 0;
  const out = new Float32Array(rows.length * size);
  rows.forEach((r, i) => {
    if (r.length !== size) throw new RangeError(`row ${i} has ${r.length} values, expected ${size}`);
    out.set(r, i * size);
  });
  return out;
}

/** Row `i` of a batch of rows of `size` values (a view). */
export function rowOf(batch: Float32Array, i: number, size: number): Float32Array {
  if ((i + 1) * size > batch.length) throw new RangeError(`row ${i} of size ${size} is outside a batch of ${batch.length}`);
  return batch.subarray(i * size, (i + 1) * size);
}

/** [text tokens ; style tokens] along the token axis for one row: ([S, D], [T, D]) → [S + T, D]. */
export function concatTokens(text: Float32Array, style: Float32Array | null): Float32Array {
  if (style === null) return text;
  const out = new Float32Array(text.length + style.length);
  out.set(text, 0);
  out.set(style, text.length);
  return out;
}

/** x · s in float32, as torch multiplies a float32 tensor by a float32 scalar. */
export function scaled(x: Float32Array, s: number): Float32Array {
  const f = Math.fround(s);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.fround(x[i]! * f);
  return out;
}
