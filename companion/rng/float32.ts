/**
 * Single-precision arithmetic in JavaScript doubles, rounded exactly as x86 SSE/AVX rounds it.
 * A double result of one float +, -, *, / or sqrt rounded to float is the correctly rounded float
 * result (53 >= 2*24+2, so double rounding is harmless); a fused multiply-add is not, hence fmaf.
 */

export const f32 = Math.fround;

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);
const scratch64 = new Float64Array(1);
const scratch64Words = new Uint32Array(scratch64.buffer);
const LOW_WORD = 0; // little-endian hosts only (x86, arm64): word 0 holds the low 32 mantissa bits

/** The IEEE-754 bit pattern of a float32 value. */
export function floatBits(x: number): number {
  scratch[0] = x;
  return scratchBits[0]!;
}

/** The float32 value of a bit pattern. */
export function floatFromBits(bits: number): number {
  scratchBits[0] = bits >>> 0;
  return scratch[0]!;
}

/**
 * fma(a, b, c) for float32 inputs with ONE rounding to float32, like vfmadd*ps.
 * a*b is exact in a double (48 bits); a + c in double is rounded, and when that double lies exactly
 * half-way between two floats the rounding error (recovered by TwoSum) decides the direction.
 */
export function fmaf(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  // TwoSum: exact error of the double addition
  const bb = s - p;
  const err = (p - (s - bb)) + (c - bb);
  if (err === 0 || !Number.isFinite(s)) return Math.fround(s);
  scratch64[0] = s;
  // s sits on a float32 rounding midpoint when its 29 dropped mantissa bits are 1 followed by zeros.
  // (Normal float range only; our callers never reach float32 subnormals.)
  const low = scratch64Words[LOW_WORD]!;
  const midpoint = (low & 0x1fffffff) === 0x10000000;
  if (!midpoint) return Math.fround(s);
  // Nudge s one double ulp towards the true value so the float rounding goes the right way.
  const nudged = err > 0 ? nextUp(s) : nextDown(s);
  return Math.fround(nudged);
}

function nextUp(x: number): number {
  scratch64[0] = x;
  const lo = scratch64Words[LOW_WORD]!;
  if (x >= 0) {
    if (lo === 0xffffffff) { scratch64Words[LOW_WORD] = 0; scratch64Words[1 - LOW_WORD]! += 1; }
    else scratch64Words[LOW_WORD] = lo + 1;
  } else {
    if (lo === 0) { scratch64Words[LOW_WORD] = 0xffffffff; scratch64Words[1 - LOW_WORD]! -= 1; }
    else scratch64Words[LOW_WORD] = lo - 1;
  }
  return scratch64[0]!;
}

function nextDown(x: number): number {
  return -nextUp(-x);
}
