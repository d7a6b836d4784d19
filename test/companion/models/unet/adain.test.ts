import { Graph } from '../../../../companion/onnx/graph';
import { PORTABLE_FP32 } from '../../../../companion/onnx/lowering';
import { adain } from '../../../../companion/models/unet/attention';
import { runGraph } from '../../../helpers/onnx-run';
import { floats } from '../golden';

/** AdaIN reference in float64: per row and channel over tokens, unbiased std, epsilon on the variance. */
function reference(c: Float32Array, s: Float32Array, b: number, n: number, ch: number, eps: number): Float64Array {
  const out = new Float64Array(c.length);
  const stats = (x: Float32Array, r: number, k: number) => {
    let m = 0;
    for (let i = 0; i < n; i++) m += x[(r * n + i) * ch + k]!;
    m /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (x[(r * n + i) * ch + k]! - m) ** 2;
    return { m, sd: Math.sqrt(v / (n - 1) + eps) };
  };
  for (let r = 0; r < b; r++) {
    for (let k = 0; k < ch; k++) {
      const a = stats(c, r, k);
      const z = stats(s, r, k);
      for (let i = 0; i < n; i++) {
        const j = (r * n + i) * ch + k;
        out[j] = ((c[j]! - a.m) / a.sd) * z.sd + z.m;
      }
    }
  }
  return out;
}

async function run(c: Float32Array, s: Float32Array, dims: [number, number, number], eps: number): Promise<Float32Array> {
  const g = new Graph({ lowering: PORTABLE_FP32 });
  const ci = g.input('c', 'float32', dims);
  const si = g.input('s', 'float32', dims);
  g.output('y', adain(ci, si, eps));
  const out = await runGraph(g, { c: floats(dims, c), s: floats(dims, s) });
  return out.y!.data as Float32Array;
}

describe('cross-modal AdaIN', () => {
  test('statistics per row and channel over the token axis, unbiased, matching a float64 reference', async () => {
    const [b, n, ch] = [3, 5, 4];
    const c = Float32Array.from({ length: b * n * ch }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 3)));
    const s = Float32Array.from({ length: b * n * ch }, (_, i) => Math.cos(i * 0.9) * 2 + (i % 4));
    const y = await run(c, s, [b, n, ch], 0);
    const ref = reference(c, s, b, n, ch, 0);
    for (let i = 0; i < y.length; i++) expect(Math.abs(y[i]! - ref[i]!)).toBeLessThan(1e-5);
    // swapping the roles of rows must change the result (statistics are per row, not pooled)
    const pooled = reference(c, s, 1, b * n, ch, 0);
    expect(Math.max(...y.map((v, i) => Math.abs(v - pooled[i]!)))).toBeGreaterThan(1e-2);
  });

  test('constant text features stay finite with the epsilon: the result is the style mean', async () => {
    const [b, n, ch] = [1, 4, 2];
    const c = new Float32Array(b * n * ch).fill(0.25);
    const s = Float32Array.from([1, 5, 2, 6, 3, 7, 4, 8]);
    const y = await run(c, s, [b, n, ch], 1e-6);
    expect(Array.from(y)).toEqual([2.5, 6.5, 2.5, 6.5, 2.5, 6.5, 2.5, 6.5]);
  });
});
