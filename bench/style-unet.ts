/**
 * `node dist/bench/style-unet.js [--size 256] [--batch 4] [--channels-div 1|2] [--style-tokens 32]`
 * Benchmark: a real SDXL-size UNet graph (full config, random fp16 weights in a temporary safetensors file, CSGO-shaped
 * style layers, teacher batch of 4) — build time, session-create time, one CPU step at 256×256, and peak RSS against
 * the bytes of weights. `--channels-div 2` runs a quarter-size variant for quick checks.
 */
import { PORTABLE_FP32 } from '../companion/onnx/lowering';
import { Session } from '../companion/onnx/session';
import { buildSdxlGraph, prepareSdxl, sdxlFeeds, type SdxlBenchOptions } from './sdxl-random';

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const peakRss = () => process.resourceUsage().maxRSS * 1024;

export async function benchSdxlUNet(o: SdxlBenchOptions): Promise<Record<string, string>> {
  const p = prepareSdxl(o);
  try {
    const t0 = performance.now();
    const { graph } = buildSdxlGraph(p, PORTABLE_FP32, o);
    const model = graph.serialize();
    const buildMs = performance.now() - t0;
    const t1 = performance.now();
    const session = await Session.create(model, { provider: 'cpu' });
    const createMs = performance.now() - t1;
    const rssAfterCreate = peakRss();
    try {
      const feeds = sdxlFeeds(p, o, 'float32');
      const t2 = performance.now();
      const out = await session.run(feeds);
      const runMs = performance.now() - t2;
      const y = out.noise_pred!.data as Float32Array;
      if (!y.every(Number.isFinite)) throw new Error('SDXL bench: non-finite noise_pred');
      return {
        config: `SDXL base UNet${o.channelsDiv === 1 ? '' : ` ÷${o.channelsDiv} channels`}, csgo style layers (${p.plan.styleLayers.length}), teacher sharing`,
        'weights (fp16 file)': `${mib(p.weightBytes)} in ${p.tensors} tensors (written in ${(p.writeMs / 1000).toFixed(1)} s)`,
        'graph nodes / protobuf': `${graph.nodeCount} / ${(model.bytes.length / 1024).toFixed(0)} KiB`,
        'build + serialize': `${buildMs.toFixed(0)} ms`,
        'session create (CPU, fp32)': `${(createMs / 1000).toFixed(1)} s`,
        [`one step, batch ${o.batch}, ${o.latent * 8}²`]: `${(runMs / 1000).toFixed(1)} s`,
        'peak RSS after create / after step': `${mib(rssAfterCreate)} / ${mib(peakRss())}`,
        'peak RSS / weight bytes': `${(peakRss() / p.weightBytes).toFixed(2)}×`,
      };
    } finally {
      await session.release();
    }
  } finally {
    p.cleanup();
  }
}

export function parseBenchArgs(argv: readonly string[]): SdxlBenchOptions {
  const arg = (name: string, dflt: number) => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return dflt;
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number, got ${argv[i + 1]}`);
    return v;
  };
  const channelsDiv = arg('channels-div', 1);
  if (channelsDiv !== 1 && channelsDiv !== 2) throw new Error('--channels-div must be 1 (real SDXL) or 2');
  return { channelsDiv, batch: arg('batch', 4), latent: arg('size', 256) / 8, styleTokens: arg('style-tokens', 32) };
}

async function main(): Promise<void> {
  const rows = await benchSdxlUNet(parseBenchArgs(process.argv.slice(2)));
  console.log('\nSDXL UNet with StyleStudio attention (random weights) on CPU');
  const width = Math.max(...Object.keys(rows).map((k) => k.length));
  for (const [k, v] of Object.entries(rows)) console.log(`  ${k.padEnd(width)}  ${v}`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
