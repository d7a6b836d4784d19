import * as fs from 'node:fs';
import * as path from 'node:path';
import { float32ToFloat16Bits } from '../../../companion/onnx/elements';
import { commonAncestor } from '../../../companion/onnx/external-data';
import { Graph, GraphBuildError } from '../../../companion/onnx/graph';
import { PORTABLE_FP32 } from '../../../companion/onnx/lowering';
import { add, reshape } from '../../../companion/onnx/ops/basic';
import { linear, linearRef } from '../../../companion/onnx/ops/nn';
import { WeightStore } from '../../../companion/weights/weight-store';
import { decodeModel } from '../../helpers/proto-decode';
import { compare, f32, pseudoRandom, runGraph } from '../../helpers/onnx-run';
import { fixture } from '../../helpers/paths';
import { buildSafetensors, tempDirsRemovedAfterAll } from '../weights/safetensors-writer';

const tempDir = tempDirsRemovedAfterAll();

function bytesOf(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

/** W [out,in], b [out] with a 1-byte U8 tensor first so every float tensor sits at an odd offset. */
function writeLinear(file: string, key: string, out: number, inp: number, seed: number) {
  const w = pseudoRandom(out * inp, seed);
  const b = pseudoRandom(out, seed + 1);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, buildSafetensors({
    odd: { dtype: 'U8', shape: [1], data: Buffer.from([7]) },
    [`${key}.weight`]: { dtype: 'F32', shape: [out, inp], data: bytesOf(w) },
    [`${key}.bias`]: { dtype: 'F32', shape: [out], data: bytesOf(b) },
  }));
  return { w, b };
}

function linearReference(x: Float32Array, rows: number, w: Float32Array, b: Float32Array, out: number, inp: number): Float32Array {
  const y = new Float32Array(rows * out);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < out; o++) {
      let s = b[o]!;
      for (let i = 0; i < inp; i++) s += x[r * inp + i]! * w[o * inp + i]!;
      y[r * out + o] = s;
    }
  }
  return y;
}

describe('Graph', () => {
  it('runs a linear layer whose weights stay external at odd offsets, named after the weight scope', async () => {
    const dir = tempDir('onnx-linear');
    const file = path.join(dir, 'model.safetensors');
    const { w, b } = writeLinear(file, 'proj', 5, 3, 11);
    const store = WeightStore.open(file);
    expect(store.get('proj.weight')!.offset % 8).not.toBe(0);

    const g = new Graph({ lowering: PORTABLE_FP32 });
    const x = g.input('x', 'float32', ['batch', 3]);
    g.output('y', linear(store.child('proj'), x, 5));
    const model = g.serialize();
    const decoded = decodeModel(model.bytes);
    expect(model.folder).toBe(fs.realpathSync(dir));
    expect(decoded.initializers.find((i) => i.name === 'proj.weight')).toEqual({
      name: 'proj.weight', dims: [5, 3], dataType: 1, rawLength: 0,
      external: { location: 'model.safetensors', offset: String(store.get('proj.weight')!.offset), length: '60' },
    });
    expect(decoded.nodes.map((n) => n.name)).toEqual(['proj/FusedMatMul', 'proj/Add', 'output/y']);
    expect(decoded.opsets).toEqual({ '': 17, 'com.microsoft': 1 });

    const xv = pseudoRandom(6, 3);
    const out = await runGraph(g, { x: f32([2, 3], xv) });
    expect(out['y']!.dims).toEqual([2, 5]);
    expect(compare(out['y']!.data as Float32Array, linearReference(xv, 2, w, b, 5, 3)).maxAbs).toBeLessThan(1e-6);
    expect(store.unreadKeys()).toEqual(['odd']);
  });

  it('reads weights inside a torch .bin zip exactly like the same weights in a .safetensors file', async () => {
    const results: Float32Array[] = [];
    for (const file of [fixture('weights', 'ip-adapter_sdxl.bin'), fixture('ip-adapter-tiny', 'sdxl_models', 'ip-adapter_sdxl.safetensors')]) {
      const s = WeightStore.open(file);
      const proj = s.get('image_proj.proj.weight')!;
      expect(proj.dtype).toBe('F16');
      const g = new Graph({ lowering: PORTABLE_FP32 });
      const x = g.input('x', 'float32', [1, proj.shape[1]!]);
      g.output('y', linear(s.child('image_proj').child('proj'), x, proj.shape[0]!));
      const out = await runGraph(g, { x: f32([1, proj.shape[1]!], pseudoRandom(proj.shape[1]!, 77)) });
      results.push(out['y']!.data as Float32Array);
    }
    expect(results[0]!.length).toBeGreaterThan(0);
    expect(Array.from(results[0]!)).toEqual(Array.from(results[1]!));
  });

  it('fails at build time when a linear weight does not take the activation, naming the key', () => {
    const g = new Graph({ lowering: PORTABLE_FP32 });
    const x = g.input('x', 'float32', [2, 3]);
    const ref = { key: 'blocks.0.to_q.weight', file: '/nowhere/w.safetensors', dtype: 'F32' as const, shape: [4, 5], offset: 0, length: 80 };
    expect(() => linearRef(x, ref)).toThrow(GraphBuildError);
    expect(() => linearRef(x, ref)).toThrow(/blocks\.0\.to_q\.weight.*\[4, 5\].*in-dim 3/);
  });

  it('puts external data relative to the common real folder of several files, resolving symlinks', async () => {
    const root = tempDir('onnx-folders');
    const a = writeLinear(path.join(root, 'blobs', 'aaa'), 'one', 4, 3, 21);
    const b = writeLinear(path.join(root, 'adapters', 'ip', 'ip.safetensors'), 'two', 2, 4, 31);
    // A hub-cache-like snapshot folder whose file is a symlink into blobs/.
    fs.mkdirSync(path.join(root, 'snapshots', 'rev'), { recursive: true });
    fs.symlinkSync(path.join(root, 'blobs', 'aaa'), path.join(root, 'snapshots', 'rev', 'model.safetensors'));
    const s1 = WeightStore.open(path.join(root, 'snapshots', 'rev', 'model.safetensors'));
    const s2 = WeightStore.open(path.join(root, 'adapters', 'ip', 'ip.safetensors'));

    const g = new Graph({ lowering: PORTABLE_FP32 });
    const x = g.input('x', 'float32', [1, 3]);
    g.output('y', linear(s2.child('two'), linear(s1.child('one'), x, 4), 2));
    const model = g.serialize();
    expect(model.folder).toBe(fs.realpathSync(root));
    const locations = decodeModel(model.bytes).initializers.map((i) => i.external['location']).filter(Boolean).sort();
    expect(locations).toEqual(['adapters/ip/ip.safetensors', 'adapters/ip/ip.safetensors', 'blobs/aaa', 'blobs/aaa']);

    const xv = pseudoRandom(3, 5);
    const out = await runGraph(g, { x: f32([1, 3], xv) });
    const expected = linearReference(linearReference(xv, 1, a.w, a.b, 4, 3), 1, b.w, b.b, 2, 4);
    expect(compare(out['y']!.data as Float32Array, expected).maxAbs).toBeLessThan(1e-6);
  });

  it('casts BF16 and F16 weights to the compute dtype, and F32 weights to fp16 in an fp16 graph', async () => {
    const dir = tempDir('onnx-bf16');
    const file = path.join(dir, 'w.safetensors');
    const values = [1, -2, 0.5, 3.25]; // exactly representable in bf16 and fp16
    const bf16 = Buffer.alloc(8);
    const f16 = Buffer.alloc(8);
    values.forEach((v, i) => {
      bf16.writeUInt16LE(new Uint32Array(new Float32Array([v]).buffer)[0]! >>> 16, i * 2);
      f16.writeUInt16LE(float32ToFloat16Bits(v), i * 2);
    });
    fs.writeFileSync(file, buildSafetensors({
      a: { dtype: 'BF16', shape: [4], data: bf16 },
      b: { dtype: 'F16', shape: [4], data: f16 },
      c: { dtype: 'F32', shape: [4], data: bytesOf(Float32Array.from(values)) },
    }));
    const store = WeightStore.open(file);
    const g = new Graph({ lowering: PORTABLE_FP32 });
    const x = g.input('x', 'float32', [4]);
    const y = add(add(add(x, g.param(store.tensor('a', [4]))), g.param(store.tensor('b', [4]))), g.param(store.tensor('c', [4])));
    g.output('y', y);
    expect(g.opTypes().filter((t) => t === 'Cast')).toHaveLength(2);
    const out = await runGraph(g, { x: f32([4], [0, 0, 0, 0]) });
    expect(Array.from(out['y']!.data as Float32Array)).toEqual(values.map((v) => 3 * v));

    const h = new Graph({ lowering: { kind: 'portable', precision: 'fp16' } });
    const xh = h.input('x', 'float16', [4]);
    h.output('y', add(xh, h.param(store.tensor('c', [4]))));
    const outH = await runGraph(h, { x: { dtype: 'float16', dims: [4], data: new Uint16Array(4) } });
    expect(outH['y']!.dtype).toBe('float16');
    expect(Array.from(outH['y']!.data as Uint16Array)).toEqual(values.map(float32ToFloat16Bits));
  });

  it('refuses to mix precisions without an explicit Cast, naming the node', () => {
    const g = new Graph({ lowering: { kind: 'portable', precision: 'fp16' } });
    const a = g.input('a', 'float16', [2]);
    const b = g.input('b', 'float32', [2]);
    expect(() => g.scoped('mid_block', () => add(a, b))).toThrow(/mid_block\/Add \(Add\): dtype mismatch float16 vs float32/);
    expect(add(a, g.cast(b, 'float16')).dtype).toBe('float16');
  });

  it('infers shapes and rejects impossible ones at build time', () => {
    const g = new Graph({ lowering: PORTABLE_FP32 });
    const x = g.input('x', 'float32', ['batch', 4, 6]);
    expect(reshape(x, [0, 2, 12]).shape).toEqual(['batch', 2, 12]);
    expect(reshape(x, [0, -1]).shape).toEqual(['batch', 24]);
    expect(() => reshape(x, [0, 5, -1])).toThrow(/Reshape/);
    const w = g.input('w', 'float32', [5, 7]);
    expect(() => g.op('MatMul', [x, w])).toThrow(/inner dims differ: 6 vs 5/);
    expect(() => g.op('Frobnicate', [x])).toThrow(/no shape inference for Frobnicate; pass shape and dtype/);
    expect(g.op('Frobnicate', [x], {}, { shape: [1], dtype: 'float32' }).shape).toEqual([1]);
    expect(() => g.op('Softmax', [x], { axis: 0.5 })).toThrow(/axis=0.5 is not an integer; write \{ f: 0.5 \}/);
  });

  it('deduplicates constants and uniquifies node names inside a scope', () => {
    const g = new Graph({ lowering: PORTABLE_FP32 });
    expect(g.scalar(2)).toBe(g.scalar(2));
    expect(g.ints([1, 2])).not.toBe(g.ints([2, 1]));
    const x = g.input('x', 'float32', [2]);
    g.scoped('down_blocks.1', () => g.scoped('attentions.0', () => {
      add(x, 1);
      add(x, 1);
    }));
    g.output('y', x);
    const names = decodeModel(g.serialize().bytes).nodes.map((n) => n.name);
    expect(names).toEqual(['down_blocks.1.attentions.0/Add', 'down_blocks.1.attentions.0/Add_1', 'output/y']);
  });

  it('refuses graphs without outputs, duplicate outputs and weights outside their file', () => {
    const g = new Graph({ lowering: PORTABLE_FP32 });
    const x = g.input('x', 'float32', [2]);
    expect(() => g.serialize()).toThrow(/no outputs/);
    g.output('y', x);
    expect(() => g.output('y', x)).toThrow(/declared twice/);
    const dir = tempDir('onnx-short');
    const file = path.join(dir, 'w.bin');
    fs.writeFileSync(file, Buffer.alloc(16));
    g.output('z', add(x, g.weight({ key: 'k', file, dtype: 'F32', shape: [2], offset: 12, length: 8 })));
    expect(() => g.serialize()).toThrow(/weight k .*bytes 12\.\.20 lie outside the file \(16 bytes\)/);
  });

  it('finds the common folder of paths', () => {
    expect(commonAncestor(['/a/b/c', '/a/b/d/e', '/a/b'])).toBe('/a/b');
    expect(commonAncestor(['/x/y', '/z'])).toBe('/');
  });
});
