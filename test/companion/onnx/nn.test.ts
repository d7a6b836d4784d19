import * as fs from 'node:fs';
import * as path from 'node:path';
import { Graph, type Value } from '../../../companion/onnx/graph';
import type { Lowering } from '../../../companion/onnx/lowering';
import { activation, attention, conv2d, geglu, groupNorm, layerNorm, upsampleNearest } from '../../../companion/onnx/ops/nn';
import { WeightStore } from '../../../companion/weights/weight-store';
import { compare, f32, pseudoRandom, runGraph } from '../../helpers/onnx-run';
import { decodeModel } from '../../helpers/proto-decode';
import { buildSafetensors, tempDirsRemovedAfterAll } from '../weights/safetensors-writer';

const tempDir = tempDirsRemovedAfterAll();

const PORTABLE: Lowering = { kind: 'portable', precision: 'fp32' };
const FUSED: Lowering = { kind: 'fused', precision: 'fp32' };

function store(tensors: Record<string, { shape: number[]; data: Float32Array }>): WeightStore {
  const file = path.join(tempDir('onnx-nn'), 'w.safetensors');
  const raw: Record<string, { dtype: string; shape: number[]; data: Buffer }> = {};
  for (const [k, t] of Object.entries(tensors)) raw[k] = { dtype: 'F32', shape: t.shape, data: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength) };
  fs.writeFileSync(file, buildSafetensors(raw));
  return WeightStore.open(file);
}

async function run1(g: Graph, y: Value, feeds: Record<string, Float32Array>, dims: Record<string, number[]>): Promise<Float32Array> {
  g.output('y', y);
  const out = await runGraph(g, Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, f32(dims[k]!, v)])));
  return out['y']!.data as Float32Array;
}

// Plain-JS references (float64 accumulation).
function groupNormRef(x: Float32Array, n: number, c: number, hw: number, groups: number, eps: number, gamma: Float32Array, beta: Float32Array): Float32Array {
  const y = new Float32Array(x.length);
  const per = (c / groups) * hw;
  for (let b = 0; b < n; b++) {
    for (let gi = 0; gi < groups; gi++) {
      const start = b * c * hw + gi * per;
      let mean = 0;
      for (let i = 0; i < per; i++) mean += x[start + i]!;
      mean /= per;
      let v = 0;
      for (let i = 0; i < per; i++) v += (x[start + i]! - mean) ** 2;
      v /= per;
      for (let i = 0; i < per; i++) {
        const ch = gi * (c / groups) + Math.floor(i / hw);
        y[start + i] = ((x[start + i]! - mean) / Math.sqrt(v + eps)) * gamma[ch]! + beta[ch]!;
      }
    }
  }
  return y;
}

function attentionRef(q: Float32Array, k: Float32Array, v: Float32Array, b: number, sq: number, sk: number, heads: number, d: number, bias?: (i: number, j: number) => number): Float32Array {
  const out = new Float32Array(b * sq * heads * d);
  const hid = heads * d;
  for (let bi = 0; bi < b; bi++) for (let h = 0; h < heads; h++) for (let i = 0; i < sq; i++) {
    const s = new Array<number>(sk);
    for (let j = 0; j < sk; j++) {
      let dot = 0;
      for (let e = 0; e < d; e++) dot += q[(bi * sq + i) * hid + h * d + e]! * k[(bi * sk + j) * hid + h * d + e]!;
      s[j] = dot / Math.sqrt(d) + (bias ? bias(i, j) : 0);
    }
    const m = Math.max(...s);
    const ex = s.map((x) => Math.exp(x - m));
    const sum = ex.reduce((a, x) => a + x, 0);
    for (let e = 0; e < d; e++) {
      let acc = 0;
      for (let j = 0; j < sk; j++) acc += (ex[j]! / sum) * v[(bi * sk + j) * hid + h * d + e]!;
      out[(bi * sq + i) * hid + h * d + e] = acc;
    }
  }
  return out;
}

describe('nn ops', () => {
  const C = 6;
  const gamma = pseudoRandom(C, 1);
  const beta = pseudoRandom(C, 2);
  const norm = () => store({ 'norm.weight': { shape: [C], data: gamma }, 'norm.bias': { shape: [C], data: beta } });

  it('groupNorm (portable) equals torch.nn.GroupNorm semantics, with and without SiLU', async () => {
    const x = pseudoRandom(2 * C * 4 * 5, 3).map((v) => v * 3 + 1);
    const expected = groupNormRef(x, 2, C, 20, 3, 1e-5, gamma, beta);
    for (const silu of [false, true]) {
      const g = new Graph({ lowering: PORTABLE });
      const xi = g.input('x', 'float32', ['batch', C, 4, 5]);
      const y = await run1(g, groupNorm(norm().child('norm'), xi, { groups: 3, eps: 1e-5, silu }), { x }, { x: [2, C, 4, 5] });
      const want = silu ? expected.map((v) => v / (1 + Math.exp(-v))) : expected;
      expect(compare(y, want).maxAbs).toBeLessThan(2e-5);
    }
  });

  it('groupNorm (fused) emits NHWC com.microsoft.GroupNorm between transposes and no InstanceNormalization', () => {
    const g = new Graph({ lowering: FUSED });
    const x = g.input('x', 'float32', [1, C, 4, 4]);
    g.output('y', groupNorm(norm().child('norm'), x, { groups: 3, eps: 1e-6, silu: true }));
    const nodes = decodeModel(g.serialize().bytes).nodes;
    expect(nodes.find((n) => n.opType === 'GroupNorm')).toMatchObject({ domain: 'com.microsoft', name: 'norm/GroupNorm' });
    expect(g.opTypes()).toEqual(['Transpose', 'com.microsoft.GroupNorm', 'Transpose', 'Identity']);
  });

  it('rejects group counts that do not divide the channels, naming the scope', () => {
    const g = new Graph({ lowering: PORTABLE });
    const x = g.input('x', 'float32', [1, C, 2, 2]);
    expect(() => groupNorm(norm().child('norm'), x, { groups: 4, eps: 1e-5 })).toThrow(/norm: 6 channels not divisible by 4 groups/);
  });

  it('attention: portable (MatMul/Softmax) and fused (MultiHeadAttention) equal the reference, with a causal bias', async () => {
    const [b, sq, sk, heads, d] = [2, 5, 7, 2, 4];
    const q = pseudoRandom(b * sq * heads * d, 11);
    const k = pseudoRandom(b * sk * heads * d, 12);
    const v = pseudoRandom(b * sk * heads * d, 13);
    const plain = attentionRef(q, k, v, b, sq, sk, heads, d);
    const causal = (i: number, j: number) => (j > i ? -3.4028234663852886e38 : 0);
    const masked = attentionRef(q, k, v, b, sq, sk, heads, d, causal);
    for (const lowering of [PORTABLE, FUSED]) {
      for (const withBias of [false, true]) {
        const g = new Graph({ lowering });
        const qi = g.input('q', 'float32', ['b', sq, heads * d]);
        const ki = g.input('k', 'float32', ['b', sk, heads * d]);
        const vi = g.input('v', 'float32', ['b', sk, heads * d]);
        const biasData: number[] = [];
        for (let i = 0; i < sq; i++) for (let j = 0; j < sk; j++) biasData.push(causal(i, j));
        const bias = withBias ? g.constant('float32', [1, 1, sq, sk], biasData) : undefined;
        const out = attention(qi, ki, vi, { heads, ...(bias ? { bias } : {}) });
        expect(g.opTypes().includes('com.microsoft.MultiHeadAttention')).toBe(lowering.kind === 'fused');
        expect(g.opTypes().includes('Softmax')).toBe(lowering.kind === 'portable');
        const y = await run1(g, out, { q, k, v }, { q: [b, sq, heads * d], k: [b, sk, heads * d], v: [b, sk, heads * d] });
        expect(compare(y, withBias ? masked : plain).maxAbs).toBeLessThan(1e-5);
      }
    }
  });

  it('conv2d (stride 2, padding 1) and layerNorm match direct computation', async () => {
    const [cin, cout, hw] = [3, 4, 5];
    const w = pseudoRandom(cout * cin * 9, 21);
    const bias = pseudoRandom(cout, 22);
    const s = store({ 'conv.weight': { shape: [cout, cin, 3, 3], data: w }, 'conv.bias': { shape: [cout], data: bias },
      'ln.weight': { shape: [hw], data: pseudoRandom(hw, 23) }, 'ln.bias': { shape: [hw], data: pseudoRandom(hw, 24) } });
    const x = pseudoRandom(cin * hw * hw, 25);
    const g = new Graph({ lowering: PORTABLE });
    const xi = g.input('x', 'float32', [1, cin, hw, hw]);
    const y = await run1(g, conv2d(s.child('conv'), xi, { outChannels: cout, kernel: 3, stride: 2, padding: 1 }), { x }, { x: [1, cin, hw, hw] });
    const out = 3;
    const ref = new Float32Array(cout * out * out);
    for (let o = 0; o < cout; o++) for (let i = 0; i < out; i++) for (let j = 0; j < out; j++) {
      let acc = bias[o]!;
      for (let c = 0; c < cin; c++) for (let ki = 0; ki < 3; ki++) for (let kj = 0; kj < 3; kj++) {
        const yy = i * 2 - 1 + ki;
        const xx = j * 2 - 1 + kj;
        if (yy < 0 || xx < 0 || yy >= hw || xx >= hw) continue;
        acc += w[((o * cin + c) * 3 + ki) * 3 + kj]! * x[(c * hw + yy) * hw + xx]!;
      }
      ref[(o * out + i) * out + j] = acc;
    }
    expect(compare(y, ref).maxAbs).toBeLessThan(1e-5);

    const g2 = new Graph({ lowering: PORTABLE });
    const x2 = g2.input('x', 'float32', [cin, hw]);
    const y2 = await run1(g2, layerNorm(s.child('ln'), x2, 1e-5), { x: x.slice(0, cin * hw) }, { x: [cin, hw] });
    const lw = s.get('ln.weight');
    expect(lw).toBeDefined();
    const gw = pseudoRandom(hw, 23);
    const gb = pseudoRandom(hw, 24);
    for (let r = 0; r < cin; r++) {
      const row = Array.from(x.slice(r * hw, (r + 1) * hw));
      const m = row.reduce((a, v) => a + v, 0) / hw;
      const vr = row.reduce((a, v) => a + (v - m) ** 2, 0) / hw;
      row.forEach((v, i) => expect(Math.abs(y2[r * hw + i]! - (((v - m) / Math.sqrt(vr + 1e-5)) * gw[i]! + gb[i]!))).toBeLessThan(1e-5));
    }
  });

  it('activations match their formulas in both lowerings', async () => {
    const x = pseudoRandom(64, 31).map((v) => v * 4);
    const erfApprox = (z: number) => {
      // Abramowitz–Stegun 7.1.26 is too coarse; integrate instead (Simpson, 2000 steps) for a 1e-7 reference.
      const n = 2000;
      const h = z / n;
      let s = 0;
      for (let i = 0; i <= n; i++) s += (i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
      return (2 / Math.sqrt(Math.PI)) * (h / 3) * s;
    };
    const refs = {
      gelu: (v: number) => 0.5 * v * (1 + erfApprox(v / Math.SQRT2)),
      gelu_tanh: (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))),
      quick_gelu: (v: number) => v / (1 + Math.exp(-1.702 * v)),
      silu: (v: number) => v / (1 + Math.exp(-v)),
    } as const;
    for (const lowering of [PORTABLE, FUSED]) {
      for (const kind of Object.keys(refs) as (keyof typeof refs)[]) {
        const g = new Graph({ lowering });
        const xi = g.input('x', 'float32', [64]);
        const y = await run1(g, activation(xi, kind), { x }, { x: [64] });
        expect(compare(y, x.map(refs[kind])).maxAbs).toBeLessThan(2e-6);
      }
    }
  });

  it('geglu equals hidden·gelu(gate) of the doubled projection; fused emits BiasSplitGelu', async () => {
    const [d, dout, seq] = [4, 3, 2];
    const w = pseudoRandom(2 * dout * d, 41);
    const b = pseudoRandom(2 * dout, 42);
    const s = store({ 'ff.proj.weight': { shape: [2 * dout, d], data: w }, 'ff.proj.bias': { shape: [2 * dout], data: b } });
    const x = pseudoRandom(seq * d, 43);
    const g = new Graph({ lowering: PORTABLE });
    const xi = g.input('x', 'float32', [1, seq, d]);
    const y = await run1(g, geglu(s.child('ff').child('proj'), xi, dout), { x }, { x: [1, seq, d] });
    const erfRef = (z: number) => {
      const n = 2000;
      const h = z / n;
      let acc = 0;
      for (let i = 0; i <= n; i++) acc += (i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
      return (2 / Math.sqrt(Math.PI)) * (h / 3) * acc;
    };
    const expected: number[] = [];
    for (let t = 0; t < seq; t++) {
      const p = Array.from({ length: 2 * dout }, (_, o) => b[o]! + Array.from({ length: d }, (_, i) => w[o * d + i]! * x[t * d + i]!).reduce((a, v) => a + v, 0));
      for (let o = 0; o < dout; o++) expected.push(p[o]! * 0.5 * p[dout + o]! * (1 + erfRef(p[dout + o]! / Math.SQRT2)));
    }
    expect(compare(y, expected).maxAbs).toBeLessThan(2e-6);

    const f = new Graph({ lowering: FUSED });
    geglu(s.child('ff').child('proj'), f.input('x', 'float32', [1, seq, d]), dout);
    expect(f.opTypes()).toEqual(['com.microsoft.FusedMatMul', 'com.microsoft.BiasSplitGelu']);
  });

  it('upsampleNearest repeats each pixel factor×factor times like torch nearest', async () => {
    const x = pseudoRandom(2 * 2 * 3, 51);
    const g = new Graph({ lowering: PORTABLE });
    const xi = g.input('x', 'float32', [1, 2, 2, 3]);
    const up = upsampleNearest(xi, 2);
    expect(up.shape).toEqual([1, 2, 4, 6]);
    const y = await run1(g, up, { x }, { x: [1, 2, 2, 3] });
    const expected: number[] = [];
    for (let c = 0; c < 2; c++) for (let i = 0; i < 4; i++) for (let j = 0; j < 6; j++) expected.push(x[(c * 2 + Math.floor(i / 2)) * 3 + Math.floor(j / 2)]!);
    expect(Array.from(y)).toEqual(expected);
  });
});
