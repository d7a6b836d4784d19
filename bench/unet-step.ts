/**
 * Our side of the UNet benchmarks: a diffusers UNet folder → our graph (any lowering) → a worker-thread ORT
 * session, with the feeds the Python side wrote (tools/bench/torch_unet_step.py --io), so both sides run the
 * same weights on the same inputs and the output difference proves it is the same computation.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Graph } from '../companion/onnx/graph';
import { float32ToFloat16Bits } from '../companion/onnx/elements';
import { float16BitsToNumber } from '../companion/rng/float16';
import type { Lowering } from '../companion/onnx/lowering';
import { Session, type TensorData } from '../companion/onnx/session';
import { readSafetensors } from '../companion/weights/safetensors';
import { WeightStore } from '../companion/weights/weight-store';
import { type UNetConfig, parseUNetConfig } from '../companion/models/unet/config';
import { planAttention } from '../companion/models/unet/attention-plan';
import { buildUNet } from '../companion/models/unet/unet';

export const WEIGHT_FILE = { fp32: 'diffusion_pytorch_model.safetensors', fp16: 'diffusion_pytorch_model.fp16.safetensors' } as const;

export interface UNetShape {
  readonly batch: number;
  /** Latent height and width. */
  readonly height: number;
  readonly width: number;
  /** Emit the teacher self-attention sharing (teacher_index input), as the batch-4 teacher phase runs. */
  readonly teacherShare: boolean;
}

export function readUNetConfig(dir: string): UNetConfig {
  const file = path.join(dir, 'config.json');
  return parseUNetConfig(JSON.parse(fs.readFileSync(file, 'utf8')), file);
}

/** SDXL: text_embeds width = projection input − 6 time ids × addition_time_embed_dim. */
export function pooledDim(c: UNetConfig): number | undefined {
  if (c.addition_embed_type !== 'text_time') return undefined;
  return c.projection_class_embeddings_input_dim! - 6 * c.addition_time_embed_dim!;
}

/** Builds the plain UNet graph (no style layers) over `weightFile` in `dir`; every weight of the file must be used. */
export function buildUNetGraph(dir: string, weightFile: string, lowering: Lowering, shape: UNetShape): { graph: Graph; buildMs: number } {
  const t0 = performance.now();
  const config = readUNetConfig(dir);
  const store = WeightStore.open(path.join(dir, weightFile));
  const plan = planAttention(config, { style: { preset: 'none' }, styleTokens: 0, teacherShare: shape.teacherShare });
  const graph = new Graph({ lowering, name: 'unet' });
  const pooled = pooledDim(config);
  buildUNet(graph, store, config, plan, {
    batch: shape.batch, height: shape.height, width: shape.width, textTokens: 77, ...(pooled !== undefined ? { pooledDim: pooled } : {}),
  });
  store.assertAllRead();
  return { graph, buildMs: performance.now() - t0 };
}

export interface F32Tensor {
  readonly shape: number[];
  readonly data: Float32Array;
}

/** Every F32 tensor of a (small) safetensors file, by key. */
export function readF32Tensors(file: string): Map<string, F32Tensor> {
  const st = readSafetensors(file);
  const bytes = fs.readFileSync(file);
  const out = new Map<string, F32Tensor>();
  for (const [key, t] of st.tensors) {
    if (t.dtype !== 'F32') throw new Error(`${file}: ${key} is ${t.dtype}, expected F32`);
    const copy = bytes.buffer.slice(bytes.byteOffset + t.offset, bytes.byteOffset + t.offset + t.length);
    out.set(key, { shape: [...t.shape], data: new Float32Array(copy) });
  }
  return out;
}

/** Graph feeds from the `in.*` tensors of an io file; float inputs converted to the graph's compute type. */
export function feedsFrom(io: Map<string, F32Tensor>, computeType: 'float32' | 'float16', shape: UNetShape): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  for (const [key, t] of io) {
    if (!key.startsWith('in.')) continue;
    const name = key.slice(3);
    // timestep and time_ids are float32 inputs in every lowering (see unet.ts)
    const half = computeType === 'float16' && name !== 'timestep' && name !== 'time_ids';
    feeds[name] = half
      ? { dtype: 'float16', dims: t.shape, data: Uint16Array.from(t.data, float32ToFloat16Bits) }
      : { dtype: 'float32', dims: t.shape, data: t.data };
  }
  if (shape.teacherShare) {
    // identity gather: the same work as sharing (two Gathers per attn1) with outputs comparable to diffusers
    feeds['teacher_index'] = { dtype: 'int64', dims: [shape.batch], data: BigInt64Array.from({ length: shape.batch }, (_, i) => BigInt(i)) };
  }
  return feeds;
}


/** max |a − e| / max |e|: the error relative to the output's scale. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`output length ${actual.length} vs reference ${expected.length}`);
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return maxAbs / scale;
}

/** A CPU session of `graph` with its feeds, warmed up by one step; `step()` times one more. */
export class TimedSession {
  private constructor(private readonly session: Session, private readonly feeds: Record<string, TensorData>, readonly createMs: number) {}

  static async open(graph: Graph, feeds: Record<string, TensorData>, threads: number): Promise<TimedSession> {
    const model = graph.serialize();
    const t0 = performance.now();
    const session = await Session.create(model, { provider: 'cpu', intraOpThreads: threads });
    const s = new TimedSession(session, feeds, performance.now() - t0);
    try {
      await s.step();
    } catch (e) {
      await session.release();
      throw e;
    }
    return s;
  }

  /** One step: its wall time in ms and the noise_pred as float32. */
  async step(): Promise<{ ms: number; output: Float32Array }> {
    const t = performance.now();
    const out = (await this.session.run(this.feeds))['noise_pred'];
    const ms = performance.now() - t;
    if (!out) throw new Error('the UNet session returned no noise_pred');
    return { ms, output: out.dtype === 'float16' ? Float32Array.from(out.data as Uint16Array, float16BitsToNumber) : (out.data as Float32Array) };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
