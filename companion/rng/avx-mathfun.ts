/**
 * One lane of PyTorch's AVX2 log256_ps / sincos256_ps (ATen/native/cpu/avx_mathfun.h, Cephes
 * polynomials after Julien Pommier's sse_mathfun), emulated in float32 step by step.
 * torch.randn's vectorised path on x86 CPUs uses these, not libm, so matching them bit for bit is the
 * only way to reproduce its numbers. PyTorch's GCC build contracts a multiply feeding a single
 * add/sub into one FMA instruction (-mfma, -ffp-contract=fast); `fmaf` below marks every place
 * where that happens, in the order GCC picks (the first multiply in statement order wins).
 */

import { f32, fmaf, floatBits, floatFromBits } from './float32';

const SQRTHF = f32(0.707106781186547524);
const LOG_P = [
  7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
  -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
].map(f32) as readonly number[];
const LOG_Q1 = f32(-2.12194440e-4);
const LOG_Q2 = f32(0.693359375);

/** log256_ps for one lane; `x` must be a float32 in (0, 1] (the Box-Muller input 1 - u). */
export function cephesLogf(x: number): number {
  const MIN_NORM_POS = floatFromBits(0x00800000);
  if (x < MIN_NORM_POS) x = MIN_NORM_POS; // _mm256_max_ps: cut off denormals (x > 0 here)
  const bits = floatBits(x);
  let e = f32(((bits >>> 23) - 0x7f) + 1); // exponent as float, +1 because the mantissa goes to [0.5, 1)
  let m = floatFromBits((bits & ~0x7f800000) | floatBits(0.5));
  // if (m < SQRTHF) { e -= 1; m = m + m - 1 } else { m = m - 1 }
  const small = m < SQRTHF;
  const tmp = small ? m : 0;
  m = f32(m - 1);
  if (small) e = f32(e - 1);
  m = f32(m + tmp);
  const z = f32(m * m);
  let y = LOG_P[0]!;
  for (let k = 1; k < LOG_P.length; k++) y = fmaf(y, m, LOG_P[k]!);
  y = f32(y * m);
  y = fmaf(y, z, f32(e * LOG_Q1));
  y = f32(y - f32(z * 0.5)); // z*0.5 is exact, so fused or not gives the same
  m = f32(m + y);
  m = f32(m + f32(e * LOG_Q2)); // e*Q2 is exact (Q2 has few bits)
  return m;
}

const MINUS_DP1 = f32(-0.78515625);
const MINUS_DP2 = f32(-2.4187564849853515625e-4);
const MINUS_DP3 = f32(-3.77489497744594108e-8);
const SINCOF_P0 = f32(-1.9515295891e-4);
const SINCOF_P1 = f32(8.3321608736e-3);
const SINCOF_P2 = f32(-1.6666654611e-1);
const COSCOF_P0 = f32(2.443315711809948e-5);
const COSCOF_P1 = f32(-1.388731625493765e-3);
const COSCOF_P2 = f32(4.166664568298827e-2);
const FOPI = f32(1.27323954473516); // 4 / pi

/** sincos256_ps for one lane: [sin(x), cos(x)] for a float32 x (|x| well below 8192). */
export function cephesSincosf(xIn: number): [number, number] {
  let x = Math.abs(xIn);
  const signSin = xIn < 0 || Object.is(xIn, -0);
  let j = Math.trunc(f32(x * FOPI)); // _mm256_cvttps_epi32
  j = (j + 1) & ~1;
  const y0 = f32(j);
  const swapSignSin = (j & 4) !== 0;
  const polyMask = (j & 2) === 0; // true: sin uses the sine polynomial, cos the cosine one
  const signCos = (~(j - 2) & 4) !== 0;
  // extended precision modular arithmetic: x = ((x - y*DP1) - y*DP2) - y*DP3
  x = fmaf(y0, MINUS_DP1, x);
  x = fmaf(y0, MINUS_DP2, x);
  x = fmaf(y0, MINUS_DP3, x);
  const z = f32(x * x);
  // cosine polynomial, valid on [0, pi/4]
  let yc = fmaf(COSCOF_P0, z, COSCOF_P1);
  yc = fmaf(yc, z, COSCOF_P2);
  yc = f32(yc * z);
  yc = fmaf(yc, z, -f32(z * 0.5));
  yc = f32(yc + 1);
  // sine polynomial
  let ys = fmaf(SINCOF_P0, z, SINCOF_P1);
  ys = fmaf(ys, z, SINCOF_P2);
  ys = f32(ys * z);
  ys = fmaf(ys, x, x);
  // select (the AVX code adds the masked halves, i.e. adds +0 to the chosen value)
  let sin = polyMask ? 0 + ys : yc + 0;
  let cos = polyMask ? yc + 0 : 0 + ys;
  if (signSin !== swapSignSin) sin = -sin;
  if (signCos) cos = -cos;
  return [sin, cos];
}
