/** Tensor element encodings for constants: little-endian bytes per ONNX dtype, float16/bfloat16 rounding. */
import type { ElemType } from './graph';

export const ELEM_BYTES: Readonly<Record<ElemType, number>> = {
  float32: 4, float16: 2, bfloat16: 2, float64: 8, int64: 8, int32: 4, int8: 1, uint8: 1, bool: 1,
};

/** Encodes numbers as little-endian bytes of `dtype` (float16 via round-to-nearest-even). */
export function encodeElements(dtype: ElemType, values: ArrayLike<number>): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(n * ELEM_BYTES[dtype]);
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    switch (dtype) {
      case 'float32': view.setFloat32(i * 4, v, true); break;
      case 'float64': view.setFloat64(i * 8, v, true); break;
      case 'float16': view.setUint16(i * 2, float32ToFloat16Bits(v), true); break;
      case 'bfloat16': {
        const f = new Float32Array([v]);
        const bits = new Uint32Array(f.buffer)[0]!;
        view.setUint16(i * 2, (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16, true);
        break;
      }
      case 'int64': view.setBigInt64(i * 8, BigInt(v), true); break;
      case 'int32': view.setInt32(i * 4, v, true); break;
      case 'int8': view.setInt8(i, v); break;
      case 'uint8': view.setUint8(i, v); break;
      case 'bool': view.setUint8(i, v ? 1 : 0); break;
    }
  }
  return out;
}

/** IEEE half from a double, round-to-nearest-even, with overflow to ±inf and subnormals. */
export function float32ToFloat16Bits(value: number): number {
  const f = new Float32Array([value]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}
