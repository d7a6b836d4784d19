/**
 * A real SDXL-size UNet (stabilityai/stable-diffusion-xl-base-1.0 unet/config.json) with random weights written to a
 * temporary safetensors file, plus a CSGO-shaped style adapter (32 tokens on every up_blocks attn2) in the same file.
 * The tensor list comes from the builder itself: a first build with a recording WeightScope collects every key and
 * shape, so the file always holds exactly what the graph reads.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Graph } from '../companion/onnx/graph';
import { float32ToFloat16Bits } from '../companion/onnx/elements';
import type { Lowering } from '../companion/onnx/lowering';
import type { TensorRef, WeightScope } from '../companion/weights/tensor';
import { WeightStore } from '../companion/weights/weight-store';
import { parseUNetConfig, type UNetConfig } from '../companion/models/unet/config';
import { type AttentionPlan, ipAdapterKeys, planAttention } from '../companion/models/unet/attention-plan';
import { buildUNet } from '../companion/models/unet/unet';
import type { StyleLayerWeights } from '../companion/models/unet/attention';

export const SDXL_BASE_UNET_CONFIG = path.join(__dirname, '..', '..', 'test', 'fixtures', 'sdxl-base-config', 'unet', 'config.json');

export interface SdxlBenchOptions {
  /** Divide block_out_channels (and so head widths) by this, for quick runs; 1 = the real SDXL. */
  readonly channelsDiv: number;
  readonly batch: number;
  /** Latent size (image size / 8). */
  readonly latent: number;
  readonly styleTokens: number;
}

export function sdxlConfig(div: number): UNetConfig {
  const raw = JSON.parse(fs.readFileSync(SDXL_BASE_UNET_CONFIG, 'utf8')) as Record<string, unknown>;
  const blocks = (raw.block_out_channels as number[]).map((c) => c / div);
  return parseUNetConfig({ ...raw, block_out_channels: blocks, addition_time_embed_dim: 256, projection_class_embeddings_input_dim: 2816 });
}

class RecordingScope implements WeightScope {
  constructor(private readonly shapes: Map<string, readonly number[]>, readonly path: string) {}
  child(name: string | number): WeightScope {
    return new RecordingScope(this.shapes, this.path ? `${this.path}.${name}` : String(name));
  }
  tensor(name: string, shape: readonly number[]): TensorRef {
    const key = this.path ? `${this.path}.${name}` : name;
    this.shapes.set(key, shape);
    return { key, file: '/dev/null', dtype: 'F16', shape, offset: 0, length: shape.reduce((a, b) => a * b, 1) * 2 };
  }
  has(): boolean {
    return false;
  }
}

function build(g: Graph, w: WeightScope, c: UNetConfig, plan: AttentionPlan, o: SdxlBenchOptions) {
  const ip = w.child('ip_adapter');
  const style = (p: string): StyleLayerWeights => {
    const layer = plan.layers.find((l) => l.path === p)!;
    const keys = ipAdapterKeys(layer);
    return { toK: ip.tensor(keys.toK, [layer.channels, c.cross_attention_dim]), toV: ip.tensor(keys.toV, [layer.channels, c.cross_attention_dim]) };
  };
  return buildUNet(g, w.child('unet'), c, plan, {
    batch: o.batch, height: o.latent, width: o.latent, textTokens: 77, pooledDim: 1280, styleWeights: style,
  });
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** Fast float → half bits for random data (truncating, subnormals flushed): no allocation per value. */
function halfBits(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const e = ((x >>> 23) & 0xff) - 112;
  if (e <= 0) return (x >>> 16) & 0x8000;
  return ((x >>> 16) & 0x8000) | (e << 10) | ((x >>> 13) & 0x3ff);
}

/** Writes random fp16 weights (uniform ±1/√fan_in; norms 1, biases small) for every recorded tensor. */
function writeSafetensors(file: string, shapes: Map<string, readonly number[]>): number {
  const header: Record<string, unknown> = {};
  let offset = 0;
  const entries = [...shapes.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  for (const [key, shape] of entries) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 2;
    header[key] = { dtype: 'F16', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const fd = fs.openSync(file, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    fs.writeSync(fd, len);
    fs.writeSync(fd, json);
    let seed = 12345;
    for (const [key, shape] of entries) {
      const n = shape.reduce((a, b) => a * b, 1);
      const fanIn = shape.length > 1 ? n / shape[0]! : 0;
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0.02;
      const base = shape.length === 1 && /norm/.test(key) && key.endsWith('weight') ? 1 : 0;
      const chunk = 1 << 22;
      for (let start = 0; start < n; start += chunk) {
        const m = Math.min(chunk, n - start);
        const out = new Uint16Array(m);
        for (let i = 0; i < m; i++) {
          seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
          out[i] = halfBits(base + bound * (seed / 2 ** 31 - 1));
        }
        fs.writeSync(fd, out);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return offset;
}

export interface PreparedSdxl {
  readonly config: UNetConfig;
  readonly plan: AttentionPlan;
  readonly file: string;
  readonly weightBytes: number;
  readonly tensors: number;
  readonly writeMs: number;
  cleanup(): void;
}

export function prepareSdxl(o: SdxlBenchOptions): PreparedSdxl {
  const config = sdxlConfig(o.channelsDiv);
  const plan = planAttention(config, { style: { preset: 'csgo' }, styleTokens: o.styleTokens, teacherShare: true });
  const shapes = new Map<string, readonly number[]>();
  build(new Graph({ lowering: { kind: 'portable', precision: 'fp32' } }), new RecordingScope(shapes, ''), config, plan, o);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdxl-bench-'));
  const file = path.join(dir, 'unet_and_adapter.fp16.safetensors');
  const t0 = performance.now();
  const weightBytes = writeSafetensors(file, shapes);
  return {
    config, plan, file, weightBytes, tensors: shapes.size, writeMs: performance.now() - t0,
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export function buildSdxlGraph(p: PreparedSdxl, lowering: Lowering, o: SdxlBenchOptions): { graph: Graph; store: WeightStore } {
  const store = WeightStore.open(p.file);
  const graph = new Graph({ lowering, name: 'sdxl_unet' });
  build(graph, store, p.config, p.plan, o);
  store.assertAllRead();
  return { graph, store };
}

/** Deterministic inputs for one StyleStudio step (teacher rows 0 and 2, sharing on). */
export function sdxlFeeds(p: PreparedSdxl, o: SdxlBenchOptions, dtype: 'float32' | 'float16') {
  const rand = (n: number, seed: number) => {
    const a = new Float32Array(n);
    let s = seed >>> 0;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      a[i] = s / 2 ** 31 - 1;
    }
    return a;
  };
  const t = (dims: number[], data: Float32Array) => (dtype === 'float16'
    ? { dtype, dims, data: Uint16Array.from(data, float32ToFloat16Bits) }
    : { dtype, dims, data });
  const B = o.batch;
  const L = o.latent;
  const teacher = Array.from({ length: B }, (_, i) => (i % 2 === 0 ? 1 : 0));
  return {
    sample: t([B, 4, L, L], rand(B * 4 * L * L, 1)),
    timestep: { dtype: 'float32' as const, dims: [B], data: new Float32Array(B).fill(501) },
    encoder_hidden_states: t([B, 77 + o.styleTokens, 2048], rand(B * (77 + o.styleTokens) * 2048, 2)),
    text_embeds: t([B, 1280], rand(B * 1280, 3)),
    time_ids: { dtype: 'float32' as const, dims: [B, 6], data: Float32Array.from({ length: B * 6 }, (_, i) => [L * 8, L * 8, 0, 0, L * 8, L * 8][i % 6]!) },
    ip_scale: { dtype: 'float32' as const, dims: [1], data: Float32Array.from([1]) },
    adain_strength: { dtype: 'float32' as const, dims: [1], data: Float32Array.from([1]) },
    teacher_mask: { dtype: 'float32' as const, dims: [B], data: Float32Array.from(teacher) },
    teacher_index: { dtype: 'int64' as const, dims: [B], data: BigInt64Array.from(teacher.map((m, i) => BigInt(m ? i : i - 1))) },
  };
}
