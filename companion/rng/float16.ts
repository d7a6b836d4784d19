/** IEEE-754 half precision conversions (c10::Half semantics: round to nearest even, from float32). */

import { floatBits } from './float32';

/** The float16 bit pattern nearest to a float32 value (ties to even), like c10::Half(float). */
export function float32ToFloat16Bits(value: number): number {
  const bits = floatBits(value);
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow to infinity
  if (e <= 0) {
    // subnormal half (or zero): shift the full significand right, rounding to nearest even
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e; // 24-bit significand down to a 10-bit subnormal field
    const half = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    const rounded = rem > mid || (rem === mid && (half & 1)) ? half + 1 : half;
    return sign | rounded;
  }
  const half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  const rounded = rem > 0x1000 || (rem === 0x1000 && (half & 1)) ? half + 1 : half; // carry may bump exponent: correct
  return sign | rounded;
}

/** The float32 value of a float16 bit pattern (exact). */
export function float16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
