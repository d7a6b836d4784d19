/**
 * torch.randn / torch.rand on the CPU generator, bit for bit (torch 2.13,
 * ATen/native/cpu/DistributionTemplates.h normal_kernel, x86 AVX2 build):
 *
 * - fewer than 16 elements: each value is at::normal_distribution<double> — two 53-bit uniforms u1, u2,
 *   r = sqrt(-2 log1p(-u2)), theta = 2 pi u1, return r cos(theta) and cache r sin(theta) in the generator
 *   for the next scalar draw — then cast to the output dtype;
 * - 16 or more: uniform floats, then Box-Muller on blocks of 16 (first 8 are u1, last 8 are u2) with the
 *   AVX2 Cephes log/sincos; if the size is not a multiple of 16 the last 16 outputs are recomputed from 16
 *   fresh uniforms. float32 first fills ALL elements with uniforms (the surplus ones are overwritten);
 *   float16/bfloat16 draw 16 uniforms per block into a float buffer, so they consume fewer.
 */

import { cephesLogf, cephesSincosf } from './avx-mathfun';
import { f32, fmaf } from './float32';
import { float32ToFloat16Bits } from './float16';
import { TorchCpuGenerator } from './torch-generator';

export type RandnDType = 'float32' | 'float16';

/** Number of elements of a shape; throws on a shape torch would reject. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const [i, d] of shape.entries()) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`shape[${i}] = ${d} is not a non-negative integer`);
    n *= d;
  }
  return n;
}

const TWO_PI_F32 = f32(2 * Math.PI); // _mm256_set1_ps(2.0f * c10::pi<double>)

/** NormalFill16<float> (AVX2): Box-Muller in place on buf[off .. off+16). */
function normalFill16(buf: Float32Array, off: number): void {
  for (let j = 0; j < 8; j++) {
    const u1 = f32(1 - buf[off + j]!); // [0, 1) -> (0, 1] for the log
    const u2 = buf[off + j + 8]!;
    const radius = f32(Math.sqrt(f32(-2 * cephesLogf(u1))));
    const theta = f32(TWO_PI_F32 * u2);
    const [sin, cos] = cephesSincosf(theta);
    // data = fma(radius * cos, std, mean) with std 1, mean 0
    buf[off + j] = fmaf(f32(radius * cos), 1, 0);
    buf[off + j + 8] = fmaf(f32(radius * sin), 1, 0);
  }
}

/** One at::normal_distribution<double> sample (mean 0, std 1), using and refilling the generator cache. */
export function normalDouble(gen: TorchCpuGenerator): number {
  const cached = gen.takeCachedNormal();
  if (cached !== undefined) return cached;
  const u1 = gen.uniformDouble();
  const u2 = gen.uniformDouble();
  const r = Math.sqrt(-2 * Math.log1p(-u2));
  const theta = 2 * Math.PI * u1;
  gen.setCachedNormal(r * Math.sin(theta));
  return r * Math.cos(theta);
}

/** torch.randn(shape, generator=gen) as float32 values. Advances `gen`. */
export function randn(gen: TorchCpuGenerator, shape: readonly number[]): Float32Array {
  const size = shapeSize(shape);
  const out = new Float32Array(size);
  if (size < 16) {
    for (let i = 0; i < size; i++) out[i] = normalDouble(gen);
    return out;
  }
  for (let i = 0; i < size; i++) out[i] = gen.uniformFloat();
  for (let i = 0; i + 16 <= size; i += 16) normalFill16(out, i);
  if (size % 16 !== 0) {
    const tail = size - 16;
    for (let j = 0; j < 16; j++) out[tail + j] = gen.uniformFloat();
    normalFill16(out, tail);
  }
  return out;
}

/** torch.randn(shape, generator=gen, dtype=torch.float16) as float16 bit patterns. Advances `gen`. */
export function randnFloat16(gen: TorchCpuGenerator, shape: readonly number[]): Uint16Array {
  const size = shapeSize(shape);
  const out = new Uint16Array(size);
  if (size < 16) {
    // static_cast<Half>(double) goes through float: double -> float -> half
    for (let i = 0; i < size; i++) out[i] = float32ToFloat16Bits(f32(normalDouble(gen)));
    return out;
  }
  const buf = new Float32Array(16);
  const fillBlock = (offset: number): void => {
    for (let j = 0; j < 16; j++) buf[j] = gen.uniformFloat();
    normalFill16(buf, 0);
    for (let j = 0; j < 16; j++) out[offset + j] = float32ToFloat16Bits(buf[j]!);
  };
  for (let i = 0; i + 16 <= size; i += 16) fillBlock(i);
  if (size % 16 !== 0) fillBlock(size - 16);
  return out;
}

/** torch.rand(shape, generator=gen) (float32, uniform [0, 1)). Advances `gen`. */
export function rand(gen: TorchCpuGenerator, shape: readonly number[]): Float32Array {
  const size = shapeSize(shape);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = gen.uniformFloat();
  return out;
}

/** A dtype-dispatching convenience: float32 values or float16 bit patterns. */
export function randnOf(gen: TorchCpuGenerator, shape: readonly number[], dtype: RandnDType): Float32Array | Uint16Array {
  return dtype === 'float32' ? randn(gen, shape) : randnFloat16(gen, shape);
}
