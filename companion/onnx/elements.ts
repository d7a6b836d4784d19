/** Tensor element encodings for constants: little-endian bytes per ONNX dtype, float16/bfloat16 rounding. */
import { float32ToFloat16Bits } from '../rng/float16';
import type { ElemType } from './types';

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

/** Half-precision bits of a number, round to nearest even (one implementation, shared with rng/). */
export { float32ToFloat16Bits };
