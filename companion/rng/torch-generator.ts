/**
 * torch.Generator('cpu') (ATen CPUGeneratorImpl): an mt19937 engine plus the one cached normal sample
 * that the scalar Box-Muller path leaves behind (next_double_normal_sample_). manual_seed(s) rebuilds
 * the engine from s and clears the cache. Draw functions (randn.ts) advance it; pass it explicitly.
 */

import { Mt19937 } from './mt19937';

/** What torch.Generator.manual_seed accepts: integers in [-2^63, 2^64 - 1]; negatives wrap like int64. */
export type TorchSeed = number | bigint;

const MAX_U64 = (1n << 64n) - 1n;
const MIN_I64 = -(1n << 63n);

/** The unsigned 64-bit seed torch stores for `seed`; throws a clear error for anything torch rejects. */
export function normalizeSeed(seed: TorchSeed): bigint {
  let big: bigint;
  if (typeof seed === 'number') {
    if (!Number.isSafeInteger(seed)) {
      throw new RangeError(`seed ${seed} is not a safe integer; pass seeds above 2^53 as a bigint`);
    }
    big = BigInt(seed);
  } else {
    big = seed;
  }
  if (big > MAX_U64 || big < MIN_I64) {
    throw new RangeError(`seed ${big} is outside torch's range [-2^63, 2^64 - 1]`);
  }
  return BigInt.asUintN(64, big);
}

export class TorchCpuGenerator {
  /** The seed as torch reports it (generator.initial_seed()). */
  readonly initialSeed: bigint;
  private engine: Mt19937;
  /** The sine half of the last scalar Box-Muller pair, returned by the next scalar draw. */
  private cachedNormal: number | undefined;

  constructor(seed: TorchSeed) {
    this.initialSeed = normalizeSeed(seed);
    this.engine = new Mt19937(this.initialSeed);
  }

  /** CPUGeneratorImpl::random(): one 32-bit engine output. */
  random(): number {
    return this.engine.nextUint32();
  }

  /**
   * transformation::uniform_real for double (random64(): first output is the HIGH word), i.e.
   * (random64 & (2^53 - 1)) * 2^-53, computed exactly without BigInt.
   */
  uniformDouble(): number {
    const hi = this.engine.nextUint32();
    const lo = this.engine.nextUint32();
    return ((hi & 0x1fffff) * 4294967296 + lo) * 2 ** -53;
  }

  /** transformation::uniform_real for float: (random() & (2^24 - 1)) * 2^-24, exact in float32. */
  uniformFloat(): number {
    return (this.engine.nextUint32() & 0xffffff) * 2 ** -24;
  }

  /** Takes the cached normal sample, if any (maybe_get_next_normal_sample). */
  takeCachedNormal(): number | undefined {
    const v = this.cachedNormal;
    this.cachedNormal = undefined;
    return v;
  }

  setCachedNormal(value: number): void {
    this.cachedNormal = value;
  }

  /** An independent generator in the same state (torch: g.clone_state / get_state + set_state). */
  clone(): TorchCpuGenerator {
    const copy = new TorchCpuGenerator(this.initialSeed);
    copy.engine = this.engine.clone();
    copy.cachedNormal = this.cachedNormal;
    return copy;
  }
}
