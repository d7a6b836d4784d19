/**
 * The values of a random-weight tensor: deterministic for (seed, scope, key), independent of chunking and of the
 * order tensors are written in, at the scale PyTorch's default initialisation gives (tools/bench/random_weights.py
 * uses the same rules), so activations of the real architectures stay in a realistic range.
 *
 *   initRule(key, shape, dtype)      which distribution a tensor gets (below)
 *   TensorValues                     its bytes, chunk by chunk, in the file's dtype
 *
 * Element i of a tensor is lowbias32(i·k1 + k2) (k1 odd, both from sha256(seed, scope, key)) mapped to
 * u ∈ (-1, 1), then base + scale·u rounded to float32; F16 is that float32 rounded to nearest even (as
 * torch's .half() does), so the F16 and F32 files of one seed agree exactly up to that rounding.
 */
import { createHash } from 'node:crypto';
import { DTYPE_BYTES, type DType } from '../../companion/weights/tensor';

export type InitRule =
  /** base + scale·U(-1, 1) */
  | { readonly kind: 'uniform'; readonly base: number; readonly scale: number }
  /** element i = i mod period (position_ids: one arange per row) */
  | { readonly kind: 'arange'; readonly period: number };

/**
 * Linear/conv weights and embeddings (≥ 2-D): U(±1/sqrt(fan_in)), fan_in = product of all but the first dimension
 * (PyTorch's kaiming_uniform(a=√5) bound); a Resampler's `latents` [1, Q, dim]: U(±1/sqrt(dim)).
 * 1-D `weight` (every one in these models is a norm scale): 1 + 0.1·u. Other 1-D tensors (biases, class_embedding):
 * 0.1·u. Integer `position_ids`: arange along the last dimension. Any other integer tensor is an error.
 */
export function initRule(key: string, shape: readonly number[], dtype: DType): InitRule {
  const leaf = key.slice(key.lastIndexOf('.') + 1);
  if (dtype !== 'F32' && dtype !== 'F16') {
    if (dtype === 'I64' && leaf === 'position_ids' && shape.length >= 1) return { kind: 'arange', period: shape[shape.length - 1] as number };
    throw new Error(`no value rule for ${dtype} tensor ${key} [${shape.join(', ')}] (only float tensors and I64 position_ids)`);
  }
  if (leaf === 'latents' && shape.length >= 2) return { kind: 'uniform', base: 0, scale: 1 / Math.sqrt(shape[shape.length - 1] as number) };
  if (shape.length >= 2) {
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    return { kind: 'uniform', base: 0, scale: 1 / Math.sqrt(Math.max(fanIn, 1)) };
  }
  if (leaf === 'weight') return { kind: 'uniform', base: 1, scale: 0.1 };
  return { kind: 'uniform', base: 0, scale: 0.1 };
}

/** The two 32-bit keys of a tensor's stream (k1 odd, so i ↦ i·k1 is a bijection mod 2³²). */
export function streamKeys(seed: number, scope: string, key: string): [number, number] {
  const h = createHash('sha256').update(`stylestudio-realshape\0${seed}\0${scope}\0${key}`).digest();
  return [(h.readUInt32LE(0) | 1) >>> 0, h.readUInt32LE(4)];
}

/** Elements generated at a time: 4 Mi (16 MiB of float32 scratch). */
export const CHUNK_ELEMENTS = 1 << 22;

const TWO_POW_M23 = 2 ** -23;

/** out[j] = float32(base + scale·u(start + j)) for j < count. */
export function fillUniform(out: Float32Array, count: number, start: number, k1: number, k2: number, base: number, scale: number): void {
  for (let j = 0; j < count; j++) {
    let x = (Math.imul(start + j, k1) + k2) | 0;
    // lowbias32 (Wellons / TheIronBorn constants): a bijection with near-ideal avalanche
    x ^= x >>> 16;
    x = Math.imul(x, 0x21f0aaad);
    x ^= x >>> 15;
    x = Math.imul(x, 0xd35a2d97);
    x ^= x >>> 15;
    // top 24 bits → the midpoints (k + 0.5)·2⁻²³ - 1: symmetric in (-1, 1), never exactly ±1
    out[j] = base + scale * (((x >>> 8) + 0.5) * TWO_POW_M23 - 1);
  }
}

const magicF32 = new Float32Array(1);
const magicBits = new Uint32Array(magicF32.buffer);
/** 0.5 as float32 bits, shifted so a float16-subnormal magnitude added to it lands its half bits in the low word. */
const DENORM_MAGIC = (127 - 15 + (23 - 10) + 1) << 23;
magicBits[0] = DENORM_MAGIC;
const DENORM_MAGIC_F = magicF32[0] as number;

/**
 * float32 → float16 bits, round to nearest even, for `count` elements (F. Giesen's float_to_half_fast3_rtne;
 * bit-identical to companion/rng/float16.ts float32ToFloat16Bits, which the tests check, at a fraction of the cost).
 */
export function float32ToFloat16Array(src: Float32Array, dst: Uint16Array, count: number): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, count);
  for (let j = 0; j < count; j++) {
    let x = bits[j] as number;
    const sign = (x >>> 16) & 0x8000;
    x &= 0x7fffffff;
    let o: number;
    if (x >= 0x47800000) {
      o = x > 0x7f800000 ? 0x7e00 : 0x7c00; // NaN : overflow to infinity
    } else if (x < 0x38800000) {
      // float16 subnormal or zero: let the float adder round the magnitude into the low mantissa bits
      const v = src[j] as number;
      magicF32[0] = (v < 0 ? -v : v) + DENORM_MAGIC_F;
      o = (magicBits[0] as number) - DENORM_MAGIC;
    } else {
      // rebias the exponent and round to nearest even on the 13 dropped bits
      o = (x + 0xc8000fff + ((x >>> 13) & 1)) >>> 13;
    }
    dst[j] = o | sign;
  }
}

/** The bytes of one tensor in its file dtype (little-endian), produced chunk by chunk into reused buffers. */
export class TensorValues {
  readonly numel: number;
  readonly byteLength: number;
  private readonly rule: InitRule;
  private readonly k1: number;
  private readonly k2: number;

  constructor(
    seed: number,
    scope: string,
    readonly key: string,
    readonly shape: readonly number[],
    readonly dtype: DType,
  ) {
    this.numel = shape.reduce((a, b) => a * b, 1);
    if (this.numel > 2 ** 32) throw new Error(`${key}: ${this.numel} elements, more than the 2^32 the element counter covers`);
    this.byteLength = this.numel * DTYPE_BYTES[dtype];
    this.rule = initRule(key, shape, dtype);
    [this.k1, this.k2] = streamKeys(seed, scope, key);
  }

  /**
   * Calls `sink` with consecutive pieces of the tensor's bytes, at most `chunkElements` elements each.
   * A piece is only valid during the call (its buffer is reused).
   */
  forEachChunk(sink: (bytes: Buffer) => void, chunkElements: number = CHUNK_ELEMENTS): void {
    const n = Math.min(chunkElements, Math.max(this.numel, 1));
    const rule = this.rule;
    if (rule.kind === 'arange') {
      if (this.dtype !== 'I64') throw new Error(`${this.key}: arange is only written as I64`);
      const out = new BigInt64Array(n);
      for (let start = 0; start < this.numel; start += n) {
        const count = Math.min(n, this.numel - start);
        for (let j = 0; j < count; j++) out[j] = BigInt((start + j) % rule.period);
        sink(Buffer.from(out.buffer, 0, count * 8));
      }
      return;
    }
    const f32 = new Float32Array(n);
    const f16 = this.dtype === 'F16' ? new Uint16Array(n) : undefined;
    for (let start = 0; start < this.numel; start += n) {
      const count = Math.min(n, this.numel - start);
      fillUniform(f32, count, start, this.k1, this.k2, rule.base, rule.scale);
      if (f16) {
        float32ToFloat16Array(f32, f16, count);
        sink(Buffer.from(f16.buffer, 0, count * 2));
      } else {
        sink(Buffer.from(f32.buffer, 0, count * 4));
      }
    }
  }
}
