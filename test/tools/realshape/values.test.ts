/** tools/realshape/values.ts: the init rules, float16 rounding, and values that do not depend on chunking. */
import { float32ToFloat16Bits } from '../../../companion/rng/float16';
import { float32ToFloat16Array, initRule, TensorValues } from '../../../tools/realshape/values';

function bytesOf(v: TensorValues, chunk?: number): Buffer {
  const parts: Buffer[] = [];
  v.forEachChunk((b) => parts.push(Buffer.from(b)), chunk); // copy: the chunk buffer is reused
  return Buffer.concat(parts);
}

function floats(buf: Buffer): Float32Array {
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
}

describe('float32ToFloat16Array', () => {
  test('bit-identical to companion/rng/float16 float32ToFloat16Bits (round to nearest even) on edge cases and 1M random patterns', () => {
    const edges = [
      0, -0, 1, -1, 65504, 65519.99, 65520, -65520, 1e9, Infinity, -Infinity, 2 ** -14, 2 ** -24, 2 ** -25, 2 ** -25 * 1.0001,
      3 * 2 ** -26, 2 ** -26, 6.1e-5, 5.96e-8, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -20, 0.1, -0.3333,
    ];
    const n = edges.length + (1 << 20);
    const src = new Float32Array(n);
    src.set(edges);
    const bits = new Uint32Array(src.buffer);
    let x = 0x12345678;
    for (let i = edges.length; i < n; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      bits[i] = x >>> 0;
    }
    const dst = new Uint16Array(n);
    float32ToFloat16Array(src, dst, n);
    let mismatches = 0;
    for (let i = 0; i < n; i++) {
      const want = float32ToFloat16Bits(src[i]!);
      const isNaN16 = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (Number.isNaN(src[i]!) ? !(isNaN16(dst[i]!) && isNaN16(want)) : dst[i] !== want) mismatches++;
    }
    expect(mismatches).toBe(0);
  });
});

describe('initRule', () => {
  test('PyTorch-like scales: 1/sqrt(fan_in) for weights and embeddings, 1 ± 0.1 for norm scales, 0.1 for biases', () => {
    expect(initRule('down_blocks.0.resnets.0.conv1.weight', [320, 320, 3, 3], 'F16')).toEqual({ kind: 'uniform', base: 0, scale: 1 / Math.sqrt(2880) });
    expect(initRule('text_model.embeddings.token_embedding.weight', [49408, 768], 'F16')).toEqual({ kind: 'uniform', base: 0, scale: 1 / Math.sqrt(768) });
    expect(initRule('style_image_proj.latents', [1, 32, 2048], 'F32')).toEqual({ kind: 'uniform', base: 0, scale: 1 / Math.sqrt(2048) });
    expect(initRule('encoder.mid_block.attentions.0.group_norm.weight', [512], 'F32')).toEqual({ kind: 'uniform', base: 1, scale: 0.1 });
    expect(initRule('style_image_proj.layers.0.1.0.weight', [2048], 'F32')).toEqual({ kind: 'uniform', base: 1, scale: 0.1 });
    expect(initRule('conv_in.bias', [320], 'F16')).toEqual({ kind: 'uniform', base: 0, scale: 0.1 });
    expect(initRule('vision_model.embeddings.class_embedding', [1664], 'F16')).toEqual({ kind: 'uniform', base: 0, scale: 0.1 });
    expect(initRule('vision_model.embeddings.position_ids', [1, 257], 'I64')).toEqual({ kind: 'arange', period: 257 });
  });

  test('integer tensors other than position_ids are refused', () => {
    expect(() => initRule('num_batches_tracked', [], 'I64')).toThrow(/no value rule for I64 tensor num_batches_tracked/);
  });
});

describe('TensorValues', () => {
  test('the same bytes whatever the chunk size; another seed, scope or key gives other bytes', () => {
    const make = (seed: number, scope = 'r/f', key = 'a.weight') => new TensorValues(seed, scope, key, [37, 29], 'F16');
    const whole = bytesOf(make(0));
    expect(whole.length).toBe(37 * 29 * 2);
    expect(bytesOf(make(0), 7).equals(whole)).toBe(true);
    expect(bytesOf(make(0), 1000).equals(whole)).toBe(true);
    expect(bytesOf(make(1)).equals(whole)).toBe(false);
    expect(bytesOf(make(0, 'r/g')).equals(whole)).toBe(false);
    expect(bytesOf(make(0, 'r/f', 'b.weight')).equals(whole)).toBe(false);
  });

  test('F16 is the F32 value rounded to nearest even', () => {
    const f32 = floats(bytesOf(new TensorValues(3, 's', 'w.weight', [64, 50], 'F32')));
    const f16 = bytesOf(new TensorValues(3, 's', 'w.weight', [64, 50], 'F16'));
    const want = Buffer.from(Uint16Array.from(f32, (v) => float32ToFloat16Bits(v)).buffer);
    expect(f16.equals(want)).toBe(true);
  });

  test('uniform within the bound, mean near the base, spread like U(-b, b)', () => {
    const fanIn = 1280;
    const w = floats(bytesOf(new TensorValues(0, 's', 'l.weight', [512, fanIn], 'F32')));
    const bound = 1 / Math.sqrt(fanIn);
    let sum = 0;
    let sq = 0;
    let max = 0;
    for (const v of w) {
      max = Math.max(max, Math.abs(v));
      sum += v;
      sq += v * v;
    }
    expect(max).toBeLessThan(bound);
    expect(max).toBeGreaterThan(bound * 0.999);
    const mean = sum / w.length;
    const std = Math.sqrt(sq / w.length - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(bound * 0.01);
    expect(std / (bound / Math.sqrt(3))).toBeCloseTo(1, 2);
    const norm = floats(bytesOf(new TensorValues(0, 's', 'norm.weight', [4096], 'F32')));
    expect(Math.min(...norm)).toBeGreaterThan(0.9);
    expect(Math.max(...norm)).toBeLessThan(1.1);
  });

  test('position_ids are an arange per row, as int64', () => {
    const b = bytesOf(new TensorValues(0, 's', 'vision_model.embeddings.position_ids', [2, 5], 'I64'), 3);
    expect([...new BigInt64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length))].map(Number)).toEqual([0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
  });
});
