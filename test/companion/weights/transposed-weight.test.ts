/**
 * A weight stored transposed (open_clip's text_projection) is read through one Transpose of the file's bytes: the
 * initializer keeps the stored shape and offset, the graph sees the shape the key names, and a linear layer over it
 * computes what the untransposed weight would.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Graph } from '../../../companion/onnx/graph';
import { PORTABLE_FP32 } from '../../../companion/onnx/lowering';
import { linearRef } from '../../../companion/onnx/ops/nn';
import type { TensorRef } from '../../../companion/weights/tensor';
import { WeightStore } from '../../../companion/weights/weight-store';
import { decodeModel } from '../../helpers/proto-decode';
import { runGraph } from '../../helpers/onnx-run';
import { buildSafetensors, f32, tempDir } from './safetensors-writer';

test('a [in, out] tensor used as the [out, in] linear weight: same result, no bytes rewritten', async () => {
  const dir = tempDir('transposed');
  try {
    const file = path.join(dir, 'w.safetensors');
    // P [in 3, out 2] as open_clip stores it: y = x @ P
    const p = [1, 2, 3, 4, 5, 6];
    fs.writeFileSync(file, buildSafetensors({ pad: { dtype: 'F32', shape: [1], data: f32(0) }, P: { dtype: 'F32', shape: [3, 2], data: f32(...p) } }));
    const stored = WeightStore.open(file).get('P')!;
    const asLinear: TensorRef = { ...stored, key: 'proj.weight', shape: [2, 3], storedTransposed: true };
    const g = new Graph({ lowering: PORTABLE_FP32 });
    const x = g.input('x', 'float32', [1, 3]);
    g.output('y', linearRef(x, asLinear));
    const decoded = decodeModel(g.serialize().bytes);
    expect(decoded.initializers.find((i) => i.name === 'proj.weight')).toMatchObject({ dims: [3, 2], external: { offset: String(stored.offset), length: '24' } });
    expect(decoded.nodes.map((n) => n.name)).toContain('proj.weight/Transpose');
    const y = await runGraph(g, { x: { dtype: 'float32', dims: [1, 3], data: new Float32Array([1, 10, 100]) } });
    expect(Array.from(y.y!.data as Float32Array)).toEqual([1 * 1 + 10 * 3 + 100 * 5, 1 * 2 + 10 * 4 + 100 * 6]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
