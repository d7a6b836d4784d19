/**
 * The tiny SDXL set's networks as (build per lowering, feeds) pairs, shared by the GPU suite
 * (test/webgpu/networks.test.ts) and `npm run gpu-check` (which copies the fixtures it needs and runs them on the
 * GPU machine). Feeds come from the golden inputs, so magnitudes are those of real runs of the tiny models.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Graph, type SerializedModel } from '../companion/onnx/graph';
import type { Lowering } from '../companion/onnx/lowering';
import type { TensorData } from '../companion/onnx/session';
import { buildClipTextGraph, openClipText } from '../companion/models/clip-text';
import { buildVaeEncoder, parseVaeConfig } from '../companion/models/vae';
import { buildGraph } from '../companion/runtime/graph-build';
import { openDiffusersFolder } from '../companion/weights/diffusers';
import { readSafetensors } from '../companion/weights/safetensors';
import { WeightStore } from '../companion/weights/weight-store';

/** F32 golden tensors by key (the golden files' layout: tools/golden). */
class GoldenFile {
  private readonly bytes: Buffer;
  private readonly file: ReturnType<typeof readSafetensors>;
  constructor(file: string) {
    this.file = readSafetensors(file);
    this.bytes = fs.readFileSync(file);
  }

  get(key: string): { shape: number[]; data: Float32Array } {
    const t = this.file.tensors.get(key);
    if (!t || t.dtype !== 'F32') throw new Error(`golden: no F32 tensor ${key}`);
    const b = this.bytes.subarray(t.offset, t.offset + t.length);
    return { shape: [...t.shape], data: new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)) };
  }

  feed(key: string): TensorData {
    const t = this.get(key);
    return { dtype: 'float32', dims: t.shape, data: t.data };
  }
}

interface Fixtures {
  tiny(...p: string[]): string;
  ipModels(...p: string[]): string;
  golden(name: string): string;
  readonly vaeConfigFile: string;
  readonly unetGold: GoldenFile;
  readonly encGold: GoldenFile;
  readonly vaeGold: GoldenFile;
}

function fixtures(root: string): Fixtures {
  const tiny = (...p: string[]) => path.join(root, 'sdxl-tiny', ...p);
  const golden = (name: string) => path.join(root, 'golden', name);
  return {
    tiny,
    ipModels: (...p: string[]) => path.join(root, 'ip-adapter-tiny', 'sdxl_models', ...p),
    golden,
    vaeConfigFile: tiny('vae', 'config.json'),
    unetGold: new GoldenFile(golden('unet.stylestudio.safetensors')),
    encGold: new GoldenFile(golden('image_encoder.safetensors')),
    vaeGold: new GoldenFile(golden('vae.safetensors')),
  };
}

/** The fixture files tinyNetworks() reads, relative to the fixtures root (what gpu-check copies). */
export const TINY_FIXTURE_FILES: readonly string[] = [
  'sdxl-tiny/model_index.json', 'sdxl-tiny/text_encoder', 'sdxl-tiny/text_encoder_2', 'sdxl-tiny/unet', 'sdxl-tiny/vae',
  'ip-adapter-tiny/sdxl_models/image_encoder', 'ip-adapter-tiny/sdxl_models/ip-adapter_sdxl.safetensors',
  'golden/text_encoder_ids.json', 'golden/unet.stylestudio.safetensors', 'golden/image_encoder.safetensors', 'golden/vae.safetensors',
];


export interface TinyNetwork {
  readonly name: string;
  build(l: Lowering, fp16Weights: boolean): SerializedModel;
  readonly feeds: Record<string, TensorData>;
  /** Inputs that take the compute dtype (float16 in fp16 graphs). */
  readonly computeInputs: readonly string[];
}

const f32 = (dims: number[], data: ArrayLike<number>): TensorData => ({ dtype: 'float32', dims, data: Float32Array.from(data) });
const i64 = (dims: number[], data: readonly number[]): TensorData => ({ dtype: 'int64', dims, data: BigInt64Array.from(data.map(BigInt)) });

function textEncoder(fx: Fixtures, name: 'text_encoder' | 'text_encoder_2'): TinyNetwork {
  const ids = JSON.parse(fs.readFileSync(fx.golden('text_encoder_ids.json'), 'utf8')) as Record<string, { prompt: { te1: number[]; te2: number[] } }>;
  const prompt = ids['neg_text']!.prompt;
  return {
    name,
    build: (lowering, fp16) => buildClipTextGraph(openClipText(openDiffusersFolder(fx.tiny()).component(name), fp16 ? { variant: 'fp16' } : {}), {
      lowering, hiddenStates: [-2], final: name === 'text_encoder_2', projection: name === 'text_encoder_2',
    }).graph.serialize(),
    feeds: { input_ids: i64([1, 77], name === 'text_encoder' ? prompt.te1 : prompt.te2) },
    computeInputs: [],
  };
}

/** Every network of the tiny SDXL set, from the fixtures folder `root` (test/fixtures or a copy of it). */
export function tinyNetworks(root: string): TinyNetwork[] {
  const fx = fixtures(root);
  const { tiny, ipModels, vaeConfigFile, unetGold, encGold, vaeGold } = fx;
  return [
  textEncoder(fx, 'text_encoder'),
  textEncoder(fx, 'text_encoder_2'),
  {
    name: 'image_encoder',
    build: (lowering) => buildGraph({ kind: 'image-encoder', lowering, configFile: ipModels('image_encoder', 'config.json'), weights: ipModels('image_encoder', 'model.safetensors') }),
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
      weights: tiny('unet', fp16 ? 'diffusion_pytorch_model.fp16.safetensors' : 'diffusion_pytorch_model.safetensors'),
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
      weights: tiny('vae', fp16 ? 'diffusion_pytorch_model.fp16.safetensors' : 'diffusion_pytorch_model.safetensors'), latentHeight: 8, latentWidth: 8,
    }),
    feeds: { latents: vaeGold.feed('decode.latents') },
    computeInputs: ['latents'],
  },
];
}


