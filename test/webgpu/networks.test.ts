/**
 * Every network of the tiny SDXL set on the WebGPU provider (session.disable_cpu_ep_fallback=1: every node on the
 * GPU provider) against the CPU provider running the CPU lowering:
 *   fp32 (webgpu lowering, fp32): max |Δ| / max |cpu| ≤ 1e-5 for every network;
 *   fp16 (webgpu lowering, fp16, the fp16 weight files): the per-network bounds in FP16_BOUND, against the CPU in
 *   fp32 on the same fp16 weight files (so the figure is the compute error alone).
 * One session per graph and provider for the whole file (shader compilation on lavapipe is slow).
 */
import { loweringFor } from '../../companion/onnx/lowering';
import type { Session, TensorData } from '../../companion/onnx/session';
import { tinyNetworks } from '../../bench/tiny-networks';
import { fixture } from '../helpers/paths';
import { asFp16, cpuSession, errorStats, requireWebGpu, toFloat32, webgpuSession } from './harness';

const FP32_BOUND = 1e-5;
/**
 * fp16 bounds per network (max rel vs the CPU in fp32 on the same fp16 weights). Measured on the tiny random set
 * (onnxruntime-node 1.30, lavapipe): te 2.7e-3, te2 3.7e-3, image encoder 1.3e-2, projection 1.3e-3, UNet 4.8e-2,
 * VAE encoder 2.1e-2, VAE decoder 9.1e-3; bounds ≈ 1.6× that. Tiny random weights exaggerate fp16 error: the
 * real-shape figures are in docs/GPU.md (bench/webgpu-realshape.ts).
 */
const FP16_BOUND: Readonly<Record<string, number>> = {
  text_encoder: 5e-3,
  text_encoder_2: 6e-3,
  image_encoder: 2e-2,
  image_projection: 2e-3,
  unet: 8e-2,
  vae_encoder: 3.5e-2,
  vae_decoder: 1.5e-2,
};

const NETWORKS = tinyNetworks(fixture());

interface Pair {
  cpu: Session;
  gpu: Session;
}

async function outputs(s: Session, feeds: Record<string, TensorData>): Promise<Record<string, Float32Array>> {
  const out = await s.run(feeds);
  const r: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(out)) r[k] = toFloat32(t);
  return r;
}

function worst(actual: Record<string, Float32Array>, expected: Record<string, Float32Array>): { maxRel: number; relL2: number; output: string } {
  let w = { maxRel: 0, relL2: 0, output: '' };
  for (const [k, e] of Object.entries(expected)) {
    const s = errorStats(actual[k]!, e);
    if (s.maxRel >= w.maxRel) w = { maxRel: s.maxRel, relL2: s.relL2, output: k };
  }
  return w;
}

beforeAll(async () => {
  await requireWebGpu();
}, 120_000);

describe.each(NETWORKS)('$name on WebGPU (no CPU fallback)', (net) => {
  const fp32: Partial<Pair> = {};
  const fp16: Partial<Pair> = {};
  afterAll(async () => {
    for (const s of [fp32.cpu, fp32.gpu, fp16.cpu, fp16.gpu]) await s?.release();
  });

  test(`fp32: within ${FP32_BOUND} of the CPU provider (and the WebGPU lowering on the CPU too)`, async () => {
    fp32.cpu = await cpuSession(net.build(loweringFor('cpu'), false));
    fp32.gpu = await webgpuSession(net.build(loweringFor('webgpu', 'fp32'), false));
    const e = worst(await outputs(fp32.gpu, net.feeds), await outputs(fp32.cpu, net.feeds));
    console.log(`webgpu fp32 ${net.name}: max rel ${e.maxRel.toExponential(2)} (rel L2 ${e.relL2.toExponential(2)}, ${e.output})`);
    expect(e.maxRel).toBeLessThanOrEqual(FP32_BOUND);
    // the WebGPU lowering itself (no contrib kernels, two-pass norms, float pooling) on the CPU provider
    const lowered = await cpuSession(net.build(loweringFor('webgpu', 'fp32'), false));
    try {
      expect(worst(await outputs(lowered, net.feeds), await outputs(fp32.cpu, net.feeds)).maxRel).toBeLessThanOrEqual(FP32_BOUND);
    } finally {
      await lowered.release();
    }
  }, 600_000);

  test(`fp16: within ${FP16_BOUND[net.name]} of fp32 on the CPU`, async () => {
    fp16.cpu = await cpuSession(net.build(loweringFor('cpu'), true));
    fp16.gpu = await webgpuSession(net.build(loweringFor('webgpu', 'fp16'), true));
    const e = worst(await outputs(fp16.gpu, asFp16(net.feeds, net.computeInputs)), await outputs(fp16.cpu, net.feeds));
    console.log(`webgpu fp16 ${net.name}: max rel ${e.maxRel.toExponential(2)} (rel L2 ${e.relL2.toExponential(2)}, ${e.output})`);
    expect(e.maxRel).toBeLessThanOrEqual(FP16_BOUND[net.name]!);
  }, 600_000);
});
