/**
 * The Mersenne Twister exactly as PyTorch's CPU generator runs it (ATen/core/MT19937RNGEngine.h):
 * the reference mt19937ar algorithm, seeded with init_genrand from the LOW 32 bits of a 64-bit seed.
 * So torch seeds 0 and 2^32 give the same stream; we reproduce that on purpose.
 */

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

export class Mt19937 {
  private readonly state = new Uint32Array(N);
  /** Index of the next state word to temper; N means "twist before the next output". */
  private index = N;

  /** `seed` is already reduced to an unsigned 64-bit integer; only its low 32 bits matter. */
  constructor(seed: bigint) {
    const s = this.state;
    s[0] = Number(BigInt.asUintN(32, seed));
    for (let j = 1; j < N; j++) {
      const prev = s[j - 1]!;
      // 1812433253 * (prev ^ (prev >> 30)) + j, modulo 2^32
      s[j] = (Math.imul(1812433253, (prev ^ (prev >>> 30)) >>> 0) + j) >>> 0;
    }
  }

  /** The next 32-bit output, as an unsigned integer in [0, 2^32). */
  nextUint32(): number {
    if (this.index >= N) this.twist();
    let y = this.state[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** An independent copy continuing from the same point. */
  clone(): Mt19937 {
    const copy = new Mt19937(0n);
    copy.state.set(this.state);
    copy.index = this.index;
    return copy;
  }

  private twist(): void {
    const s = this.state;
    for (let k = 0; k < N; k++) {
      const y = (s[k]! & UPPER_MASK) | (s[(k + 1) % N]! & LOWER_MASK);
      s[k] = (s[(k + M) % N]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0)) >>> 0;
    }
    this.index = 0;
  }
}
