import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { fixture } from '../../helpers/paths';
import { TorchCpuGenerator, normalizeSeed, rand, randn, randnFloat16 } from '../../../companion/rng';
import { asFloat16Bits, asFloat32, readSafetensors, type FixtureTensor } from './safetensors-fixture';

// Every comparison here is bit for bit (integer views of the float bits), never a tolerance.

const sharedGolden = readSafetensors(fixture('golden', 'rng.safetensors'));
const manyGolden = readSafetensors(fixture('golden', 'rng-many.safetensors'));
interface Case { name?: string; op?: string; seed: string; shape: number[]; dtype: string; sha256?: string; head?: string; tail?: string }
interface Seq { seed: string; steps: { name: string; op: string; shape: number[]; dtype: string }[] }
const manySidecar = JSON.parse(fs.readFileSync(fixture('golden', 'rng-many.json'), 'utf8')) as { cases: Case[]; seqs: Seq[] };

function tensor(map: Map<string, FixtureTensor>, name: string): FixtureTensor {
  const t = map.get(name);
  if (!t) throw new Error(`golden tensor ${name} missing`);
  return t;
}

function bits32(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** Index of the first differing element, or -1; jest's array diff on 65k elements is unreadable. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('shared golden (seeds 0, 1, 42, 123456789)', () => {
  const names = [...sharedGolden.keys()].filter((n) => /^randn\.seed\d+\./.test(n));
  test('covers both sampling paths and both dtypes', () => {
    expect(names.length).toBe(36);
  });
  test.each(names)('%s', (name) => {
    const [, seed, shapeText, dtype] = /^randn\.seed(\d+)\.([\dx]+)\.(float\d+)$/.exec(name)!;
    const shape = shapeText!.split('x').map(Number);
    const gen = new TorchCpuGenerator(BigInt(seed!));
    const want = tensor(sharedGolden, name);
    if (dtype === 'float32') expect(firstDifference(bits32(randn(gen, shape)), bits32(asFloat32(want)))).toBe(-1);
    else expect(firstDifference(randnFloat16(gen, shape), asFloat16Bits(want))).toBe(-1);
  });
  test('three consecutive draws from one generator (seed 42: 7, 1x4x8x8, 7)', () => {
    const gen = new TorchCpuGenerator(42);
    const draws: [string, number[]][] = [['randn.seq.seed42.0.7', [7]], ['randn.seq.seed42.1.1x4x8x8', [1, 4, 8, 8]], ['randn.seq.seed42.2.7', [7]]];
    for (const [name, shape] of draws) {
      expect(firstDifference(bits32(randn(gen, shape)), bits32(asFloat32(tensor(sharedGolden, name))))).toBe(-1);
    }
  });
  test('torch.rand', () => {
    const got = rand(new TorchCpuGenerator(0), [1, 4, 8, 8]);
    expect(firstDifference(bits32(got), bits32(asFloat32(tensor(sharedGolden, 'rand.seed0.1x4x8x8.float32'))))).toBe(-1);
  });
});

describe('tools/golden/rng.py: many seeds (incl. >= 2^32, 2^63+5, 2^64-1, negative) and shapes', () => {
  const full = manySidecar.cases.filter((c) => c.name !== undefined);
  const hashed = manySidecar.cases.filter((c) => c.sha256 !== undefined);
  test('fixture has the expected coverage', () => {
    expect(full.length).toBeGreaterThan(300);
    expect(hashed.length).toBe(2 * 18);
  });
  test.each(full.map((c) => [c.name!, c] as const))('%s', (name, c) => {
    const gen = new TorchCpuGenerator(BigInt(c.seed));
    const want = tensor(manyGolden, name);
    if (c.op === 'rand') expect(firstDifference(bits32(rand(gen, c.shape)), bits32(asFloat32(want)))).toBe(-1);
    else if (c.dtype === 'float32') expect(firstDifference(bits32(randn(gen, c.shape)), bits32(asFloat32(want)))).toBe(-1);
    else expect(firstDifference(randnFloat16(gen, c.shape), asFloat16Bits(want))).toBe(-1);
  });
  test.each(hashed.map((c) => [`seed ${c.seed} ${c.shape.join('x')}`, c] as const))('big shape %s: sha256 + head/tail', (_, c) => {
    const got = randn(new TorchCpuGenerator(BigInt(c.seed)), c.shape);
    const head = bits32(asFloat32(tensor(manyGolden, c.head!)));
    const tail = bits32(asFloat32(tensor(manyGolden, c.tail!)));
    expect(firstDifference(bits32(got.subarray(0, 16)), head)).toBe(-1);
    expect(firstDifference(bits32(got.subarray(got.length - 16)), tail)).toBe(-1);
    expect(createHash('sha256').update(new Uint8Array(got.buffer)).digest('hex')).toBe(c.sha256);
  });
  test.each(manySidecar.seqs.map((s) => [s.seed, s] as const))('consecutive mixed draws, seed %s', (_, s) => {
    const gen = new TorchCpuGenerator(BigInt(s.seed));
    for (const step of s.steps) {
      const want = tensor(manyGolden, step.name);
      if (step.op === 'rand') expect(firstDifference(bits32(rand(gen, step.shape)), bits32(asFloat32(want)))).toBe(-1);
      else if (step.dtype === 'float32') expect(firstDifference(bits32(randn(gen, step.shape)), bits32(asFloat32(want)))).toBe(-1);
      else expect(firstDifference(randnFloat16(gen, step.shape), asFloat16Bits(want))).toBe(-1);
    }
  });
});

describe('seeds', () => {
  test('only the low 32 bits seed the engine, as in torch (0 and 2^32 give the same noise)', () => {
    const a = randn(new TorchCpuGenerator(0), [20]);
    const b = randn(new TorchCpuGenerator(2n ** 32n), [20]);
    expect(firstDifference(bits32(a), bits32(b))).toBe(-1);
    expect(new TorchCpuGenerator(2n ** 32n).initialSeed).toBe(2n ** 32n);
  });
  test('negative seeds wrap like int64; out-of-range and unsafe numbers are refused', () => {
    expect(normalizeSeed(-1)).toBe(2n ** 64n - 1n);
    expect(() => normalizeSeed(2n ** 64n)).toThrow(/outside torch's range/);
    expect(() => normalizeSeed(-(2n ** 63n) - 1n)).toThrow(/outside torch's range/);
    expect(() => normalizeSeed(2 ** 60)).toThrow(/bigint/);
    expect(() => normalizeSeed(1.5)).toThrow(/not a safe integer/);
  });
  test('clone continues identically, including the cached scalar sample', () => {
    const gen = new TorchCpuGenerator(5);
    randn(gen, [3]); // leaves a cached sine half
    const copy = gen.clone();
    expect(firstDifference(bits32(randn(gen, [5])), bits32(randn(copy, [5])))).toBe(-1);
    expect(firstDifference(bits32(randn(gen, [40])), bits32(randn(copy, [40])))).toBe(-1);
  });
  test('bad shapes are refused', () => {
    expect(() => randn(new TorchCpuGenerator(0), [2, -1])).toThrow(/shape\[1\]/);
    expect(() => randn(new TorchCpuGenerator(0), [2.5])).toThrow(/shape\[0\]/);
  });
});
