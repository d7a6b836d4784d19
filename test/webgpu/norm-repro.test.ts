/**
 * Minimal reproduction of the WebGPU normalisation defect (onnxruntime-node 1.30, Dawn on lavapipe): ONNX
 * InstanceNormalization and LayerNormalization on WebGPU lose precision when |mean| ≫ std (one-pass variance
 * E[x²] − E[x]²), and still differ by up to 6e-5 on centred input inside the tiny UNet; the 'two-pass-fp32'
 * statistics of the WebGPU lowering (ReduceMean + elementwise ops) agree with the CPU as closely as fp32 allows. Asserted as measured, so a fixed ORT
 * shows up here (then the lowering can go back to the native kernels).
 */
import { Graph, type Value } from '../../companion/onnx/graph';
import { lcgFloats } from '../../companion/onnx/numerics';
import { add, div, mul, reduceMean, sqrt, sub } from '../../companion/onnx/ops/basic';
import { cpuSession, errorStats, requireWebGpu, toFloat32, webgpuSession } from './harness';

type Form = 'instance' | 'layer' | 'two-pass';

function normGraph(form: Form, n: number): Graph {
  const g = new Graph({ lowering: { kind: 'portable', precision: 'fp32', contrib: [] } });
  const x = g.input('x', 'float32', [2, 32, n]);
  let y: Value;
  if (form === 'instance') {
    y = g.op('InstanceNormalization', [x, g.constant('float32', [32], new Array<number>(32).fill(1)), g.constant('float32', [32], new Array<number>(32).fill(0))], { epsilon: { f: 1e-5 } });
  } else if (form === 'layer') {
    y = g.op('LayerNormalization', [x, g.constant('float32', [n], new Array<number>(n).fill(1)), g.constant('float32', [n], new Array<number>(n).fill(0))], { axis: -1, epsilon: { f: 1e-5 } });
  } else {
    const d = sub(x, reduceMean(x, [2]));
    y = div(d, sqrt(add(reduceMean(mul(d, d), [2]), g.scalar(1e-5, 'float32'))));
  }
  g.output('y', y);
  return g;
}

async function gpuVsCpu(form: Form, n: number, mean: number, std: number): Promise<number> {
  const model = normGraph(form, n).serialize();
  const raw = lcgFloats(2 * 32 * n, 3, -1.7320508, 1.7320508); // uniform with unit variance
  const data = raw.map((v) => mean + std * v);
  const feeds = { x: { dtype: 'float32' as const, dims: [2, 32, n], data } };
  const cpu = await cpuSession(model);
  const gpu = await webgpuSession(model);
  try {
    return errorStats(toFloat32((await gpu.run(feeds))['y']!), toFloat32((await cpu.run(feeds))['y']!)).relL2;
  } finally {
    await cpu.release();
    await gpu.release();
  }
}

beforeAll(async () => {
  await requireWebGpu();
}, 120_000);

test.each([
  [16, 10, 0.1],
  [16, 100, 1],
  [4096, 10, 0.1],
])('n %d, mean %d, std %d: WebGPU InstanceNorm/LayerNorm off by > 1e-4; two-pass ≥ 10× closer and ≤ 5e-5', async (n, mean, std) => {
  const inst = await gpuVsCpu('instance', n, mean, std);
  const layer = await gpuVsCpu('layer', n, mean, std);
  const twoPass = await gpuVsCpu('two-pass', n, mean, std);
  console.log(`n ${n}, mean ${mean}, std ${std}: rel L2 InstanceNorm ${inst.toExponential(1)}, LayerNorm ${layer.toExponential(1)}, two-pass ${twoPass.toExponential(1)}`);
  expect(inst).toBeGreaterThan(1e-4);
  expect(layer).toBeGreaterThan(1e-4);
  // the two-pass form is as close as fp32 means of |mean|/std = 100 data get (0 at n = 16, 1.2e-5 at n = 4096)
  expect(twoPass).toBeLessThan(5e-5);
  expect(twoPass * 10).toBeLessThan(Math.min(inst, layer));
}, 120_000);
