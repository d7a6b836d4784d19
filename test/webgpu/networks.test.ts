/**
 * Every network of the tiny SDXL set on the WebGPU provider (session.disable_cpu_ep_fallback=1: every node on the
 * GPU provider) against the CPU provider running the CPU lowering:
 *   fp32 (webgpu lowering, fp32): max |Δ| / max |cpu| ≤ 1e-5 for every network;
 *   fp16 (webgpu lowering, fp16, the fp16 weight files): the per-network bounds in FP16_BOUND, against the CPU in
 *   fp32 on the same fp16 weight files (so the figure is the compute error alone).
 * One session per graph and provider for the whole file (shader compilation on lavapipe is slow).
 */
import * as fs from 'node:fs';
import { Graph, type SerializedModel } from '../../companion/onnx/graph';
import { type Lowering, loweringFor } from '../../companion/onnx/lowering';
import type { Session, TensorData } from '../../companion/onnx/session';
import { buildClipTextGraph, openClipText } from '../../companion/models/clip-text';
import { buildVaeEncoder, parseVaeConfig } from '../../companion/models/vae';
import { buildGraph } from '../../companion/pipeline/graph-build';
import { openDiffusersFolder } from '../../companion/weights/diffusers';
import { WeightStore } from '../../companion/weights/weight-store';
import { Golden } from '../companion/models/golden';
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

const tiny = (...p: string[]) => fixture('sdxl-tiny', ...p);
const ipModels = (...p: string[]) => fixture('ip-adapter-tiny', 'sdxl_models', ...p);
const vaeConfigFile = tiny('vae', 'config.json');
const unetGold = new Golden('unet.stylestudio');
const encGold = new Golden('image_encoder');
const vaeGold = new Golden('vae');

interface Network {
  readonly name: string;
  build(l: Lowering, fp16Weights: boolean): SerializedModel;
  readonly feeds: Record<string, TensorData>;
  /** Inputs that take the compute dtype (float16 in fp16 graphs). */
  readonly computeInputs: readonly string[];
}

const f32 = (dims: number[], data: ArrayLike<number>): TensorData => ({ dtype: 'float32', dims, data: Float32Array.from(data) });
const i64 = (dims: number[], data: readonly number[]): TensorData => ({ dtype: 'int64', dims, data: BigInt64Array.from(data.map(BigInt)) });

function textEncoder(name: 'text_encoder' | 'text_encoder_2'): Network {
  const ids = JSON.parse(fs.readFileSync(fixture('golden', 'text_encoder_ids.json'), 'utf8')) as Record<string, { prompt: { te1: number[]; te2: number[] } }>;
  const prompt = ids['neg_text']!.prompt;
  return {
    name,
    build: (lowering, fp16) => buildClipTextGraph(openClipText(openDiffusersFolder(tiny()).component(name), fp16 ? { variant: 'fp16' } : {}), {
      lowering, hiddenStates: [-2], final: name === 'text_encoder_2', projection: name === 'text_encoder_2',
    }).graph.serialize(),
    feeds: { input_ids: i64([1, 77], name === 'text_encoder' ? prompt.te1 : prompt.te2) },
    computeInputs: [],
  };
}

const NETWORKS: readonly Network[] = [
  textEncoder('text_encoder'),
  textEncoder('text_encoder_2'),
  {
    name: 'image_encoder',
    build: (lowering) => buildGraph({ kind: 'image-encoder', lowering, configFile: ipModels('image_encoder', 'config.json'), weightFile: ipModels('image_encoder', 'model.safetensors') }),
    feeds: { pixel_values: f32([1, 3, 224, 224], encGold.get('style.pixel_values').data) },
    computeInputs: ['pixel_values'],
  },
  {
    name: 'image_projection',
    build: (lowering) => buildGraph({ kind: 'image-projection', lowering, adapterFile: ipModels('ip-adapter_sdxl.safetensors'), crossDim: 96 }),
    feeds: { features: f32([2, 32], encGold.get('prepared.ip_adapter_image_embeds.0').data) },
    computeInputs: ['features'],
  },
  {
    // StyleStudio UNet: style tokens in up_blocks, AdaIN, teacher rows and teacher attention sharing.
    name: 'unet',
    build: (lowering, fp16) => buildGraph({
      kind: 'unet', lowering, configFile: tiny('unet', 'config.json'),
      weightFile: tiny('unet', fp16 ? 'diffusion_pytorch_model.fp16.safetensors' : 'diffusion_pytorch_model.safetensors'),
      adapterFile: ipModels('ip-adapter_sdxl.safetensors'), style: { preset: 'csgo' }, teacherShare: true,
      rows: 4, latentHeight: 8, latentWidth: 8, pooledDim: 48,
    }),
    feeds: {
      sample: unetGold.feed('in.sample'),
      timestep: f32([4], new Array<number>(4).fill(unetGold.get('in.timestep').data[0]!)),
      encoder_hidden_states: unetGold.feed('in.encoder_hidden_states'),
      text_embeds: unetGold.feed('in.text_embeds'),
      time_ids: unetGold.feed('in.time_ids'),
      ip_scale: f32([1], [1]),
      adain_strength: f32([1], [1]),
      teacher_mask: f32([4], [1, 0, 1, 0]),
      teacher_index: i64([4], [0, 0, 2, 2]),
    },
    computeInputs: ['sample', 'encoder_hidden_states', 'text_embeds'],
  },
  {
    name: 'vae_encoder',
    build: (lowering, fp16) => {
      const g = new Graph({ lowering, name: 'vae_encoder' });
      const store = WeightStore.open(tiny('vae', fp16 ? 'diffusion_pytorch_model.fp16.safetensors' : 'diffusion_pytorch_model.safetensors'));
      buildVaeEncoder(g, store, parseVaeConfig(JSON.parse(fs.readFileSync(vaeConfigFile, 'utf8'))), { batch: 1, height: 64, width: 64 });
      return g.serialize();
    },
    feeds: { image: vaeGold.feed('encode.image') },
    computeInputs: ['image'],
  },
  {
    name: 'vae_decoder',
    build: (lowering, fp16) => buildGraph({
      kind: 'vae-decoder', lowering, configFile: vaeConfigFile,
      weightFile: tiny('vae', fp16 ? 'diffusion_pytorch_model.fp16.safetensors' : 'diffusion_pytorch_model.safetensors'), latentHeight: 8, latentWidth: 8,
    }),
    feeds: { latents: vaeGold.feed('decode.latents') },
    computeInputs: ['latents'],
  },
];

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

  test(`fp32: within ${FP32_BOUND} of the CPU provider`, async () => {
    fp32.cpu = await cpuSession(net.build(loweringFor('cpu'), false));
    fp32.gpu = await webgpuSession(net.build(loweringFor('webgpu', 'fp32'), false));
    const e = worst(await outputs(fp32.gpu, net.feeds), await outputs(fp32.cpu, net.feeds));
    console.log(`webgpu fp32 ${net.name}: max rel ${e.maxRel.toExponential(2)} (rel L2 ${e.relL2.toExponential(2)}, ${e.output})`);
    expect(e.maxRel).toBeLessThanOrEqual(FP32_BOUND);
  }, 600_000);

  test(`fp16: within ${FP16_BOUND[net.name]} of fp32 on the CPU`, async () => {
    fp16.cpu = await cpuSession(net.build(loweringFor('cpu'), true));
    fp16.gpu = await webgpuSession(net.build(loweringFor('webgpu', 'fp16'), true));
    const e = worst(await outputs(fp16.gpu, asFp16(net.feeds, net.computeInputs)), await outputs(fp16.cpu, net.feeds));
    console.log(`webgpu fp16 ${net.name}: max rel ${e.maxRel.toExponential(2)} (rel L2 ${e.relL2.toExponential(2)}, ${e.output})`);
    expect(e.maxRel).toBeLessThanOrEqual(FP16_BOUND[net.name]!);
  }, 600_000);
});
