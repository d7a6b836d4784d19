/**
 * On a machine with a GPU (`node dist/bench/style-unet-gpu.js --provider cuda`), one SDXL-size UNet step (random weights, StyleStudio layers and
 * teacher batch) per lowering — portable fp32, portable fp16, fused fp16 — on the GPU provider, each against the
 * portable fp32 CPU result. Prints max error relative to max |reference| and the median time of 3 runs.
 *   node dist/bench/style-unet-gpu.js [--provider cuda|dml] [--size 256] [--channels-div 1|2] [--batch 4]
 */
import { type ExecutionProvider, type Lowering } from '../companion/onnx/lowering';
import { Session, type TensorData } from '../companion/onnx/session';
import { buildSdxlGraph, prepareSdxl, sdxlFeeds } from './sdxl-random';
import { parseBenchArgs } from './style-unet';

function toFloat(t: TensorData): Float32Array {
  if (t.dtype === 'float32') return t.data as Float32Array;
  const bits = t.data as Uint16Array;
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    const v = e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15);
    out[i] = h & 0x8000 ? -v : v;
  }
  return out;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const o = parseBenchArgs(argv);
  const pi = argv.indexOf('--provider');
  const provider = (pi >= 0 ? argv[pi + 1] : 'cuda') as ExecutionProvider;
  const p = prepareSdxl(o);
  try {
    const run = async (label: string, lowering: Lowering, ep: ExecutionProvider) => {
      const { graph } = buildSdxlGraph(p, lowering, o);
      const s = await Session.create(graph.serialize(), { provider: ep });
      try {
        const feeds = sdxlFeeds(p, o, lowering.precision === 'fp16' ? 'float16' : 'float32');
        const times: number[] = [];
        let y: Float32Array = new Float32Array();
        for (let i = 0; i < 3; i++) {
          const t0 = performance.now();
          const out = await s.run(feeds);
          times.push(performance.now() - t0);
          y = toFloat(out.noise_pred!);
        }
        times.sort((a, b) => a - b);
        return { label, y, ms: times[1]! };
      } finally {
        await s.release();
      }
    };
    const ref = await run('cpu portable fp32 (reference)', { kind: 'portable', precision: 'fp32' }, 'cpu');
    let scale = 0;
    for (const v of ref.y) scale = Math.max(scale, Math.abs(v));
    console.log(`SDXL UNet step, ${o.latent * 8}², batch ${o.batch}, provider ${provider}`);
    console.log(`  ${ref.label.padEnd(34)} ${ref.ms.toFixed(0)} ms`);
    for (const [label, lowering] of [
      ['portable fp32', { kind: 'portable', precision: 'fp32' }],
      ['portable fp16', { kind: 'portable', precision: 'fp16' }],
      ['fused fp16', { kind: 'fused', precision: 'fp16' }],
    ] as const) {
      try {
        const r = await run(`${provider} ${label}`, lowering, provider);
        let err = 0;
        for (let i = 0; i < r.y.length; i++) err = Math.max(err, Math.abs(r.y[i]! - ref.y[i]!));
        console.log(`  ${r.label.padEnd(34)} ${r.ms.toFixed(0)} ms   max err / max|ref| = ${(err / scale).toExponential(2)}`);
      } catch (e) {
        console.log(`  ${provider} ${label}: FAILED: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  } finally {
    p.cleanup();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
