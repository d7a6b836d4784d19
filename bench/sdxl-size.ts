/**
 * Benchmark (c), run in its own process so its peak RSS is its own: the full SDXL UNet graph over a random fp16
 * weight file → build, session create, one step at 256×256 on CPU (batch 2, classifier-free guidance's rows).
 *
 *   node dist/bench/sdxl-size.js UNET_DIR [--threads N]     prints one JSON line (SdxlSizeResult)
 *
 * Lowering: loweringFor('cpu') (fp32, MultiHeadAttention), the CPU default; the fp16 weights are cast to fp32 (ORT folds the casts into fp32
 * copies), so RAM is expected near 2× the fp16 weight bytes on top of the mapped file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loweringFor } from '../companion/onnx/lowering';
import { lcgFloats } from '../companion/onnx/numerics';
import { Session, type TensorData } from '../companion/onnx/session';
import { buildUNetGraph, pooledDim, readUNetConfig, WEIGHT_FILE } from './unet-step';

export interface SdxlSizeResult {
  readonly weightBytes: number;
  readonly nodes: number;
  readonly modelBytes: number;
  readonly buildMs: number;
  readonly createMs: number;
  readonly stepMs: number;
  readonly rssAfterBuild: number;
  readonly rssAfterCreate: number;
  readonly rssAfterStep: number;
  readonly peakRss: number;
  /** Linux: anonymous (heap: the fp32 weight copies) and file-backed (mmapped weight file) RSS after the step. */
  readonly rssAnonAfterStep: number | null;
  readonly rssFileAfterStep: number | null;
  readonly outputFinite: boolean;
}

/** RssAnon / RssFile from /proc/self/status in bytes; null where there is no such file. */
function rssParts(): { anon: number; file: number } | null {
  try {
    const text = fs.readFileSync('/proc/self/status', 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
    const anon = kb('RssAnon');
    const file = kb('RssFile');
    return Number.isFinite(anon) && Number.isFinite(file) ? { anon, file } : null;
  } catch {
    return null;
  }
}

function f32(dims: number[], data: Float32Array): TensorData {
  return { dtype: 'float32', dims, data };
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: node dist/bench/sdxl-size.js UNET_DIR [--threads N]');
  const ti = process.argv.indexOf('--threads');
  const threads = ti > 0 ? Number(process.argv[ti + 1]) : 0;
  const batch = 2;
  const latent = 32; // 256×256 pixels
  const weightFile = path.join(dir, WEIGHT_FILE.fp16);
  const weightBytes = fs.statSync(weightFile).size;

  const { graph, buildMs } = buildUNetGraph(dir, WEIGHT_FILE.fp16, loweringFor('cpu'), { batch, height: latent, width: latent, teacherShare: false });
  const model = graph.serialize();
  const rssAfterBuild = process.memoryUsage().rss;

  const t0 = performance.now();
  const session = await Session.create(model, { provider: 'cpu', intraOpThreads: threads });
  const createMs = performance.now() - t0;
  const rssAfterCreate = process.memoryUsage().rss;

  const config = readUNetConfig(dir);
  const feeds: Record<string, TensorData> = {
    sample: f32([batch, 4, latent, latent], lcgFloats(batch * 4 * latent * latent, 1)),
    timestep: f32([batch], new Float32Array(batch).fill(500)),
    encoder_hidden_states: f32([batch, 77, config.cross_attention_dim], lcgFloats(batch * 77 * config.cross_attention_dim, 2)),
    text_embeds: f32([batch, pooledDim(config)!], lcgFloats(batch * pooledDim(config)!, 3)),
    time_ids: f32([batch, 6], Float32Array.from({ length: batch * 6 }, (_, i) => [256, 256, 0, 0, 256, 256][i % 6]!)),
  };
  let stepMs = 0;
  let outputFinite = false;
  let rssAfterStep = 0;
  let parts: ReturnType<typeof rssParts> = null;
  try {
    const t1 = performance.now();
    const out = (await session.run(feeds))['noise_pred']!;
    stepMs = performance.now() - t1;
    rssAfterStep = process.memoryUsage().rss;
    parts = rssParts();
    outputFinite = (out.data as Float32Array).every((v) => Number.isFinite(v));
  } finally {
    await session.release();
  }
  const result: SdxlSizeResult = {
    weightBytes, nodes: graph.nodeCount, modelBytes: model.bytes.byteLength, buildMs, createMs, stepMs,
    rssAfterBuild, rssAfterCreate, rssAfterStep,
    peakRss: process.resourceUsage().maxRSS * 1024,
    rssAnonAfterStep: parts?.anon ?? null, rssFileAfterStep: parts?.file ?? null, outputFinite,
  };
  console.log(JSON.stringify(result));
}

main().catch((e: unknown) => {
  console.error((e as Error).message);
  process.exit(1);
});
