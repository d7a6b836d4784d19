/**
 * The Node half of `npm run gpu-check`: on this machine or on a GPU machine (run by tools/bench/gpu_check.py from
 * the carried Node pack), prints
 *   1. provider availability (onnxruntime-node's list, and whether a session really starts),
 *   2. the self-check (onnx/self-check.ts) of every available GPU provider, fp16 and fp32,
 *   3. parity of every tiny network on every available GPU provider (its default lowering, CPU fallback disabled)
 *      against the CPU provider, fp32 and fp16.
 *
 *   node dist/bench/gpu-check-node.js [FIXTURES_DIR] [--provider cuda|webgpu|dml|coreml]
 * FIXTURES_DIR defaults to test/fixtures of this checkout; --provider limits 2 and 3 to one provider.
 * Prints tables; asserts nothing; exit code 0 unless it could not run at all.
 */
import * as path from 'node:path';
import { type ExecutionProvider, loweringFor } from '../companion/onnx/lowering';
import { errorStats, floatTensor, toFloat32 } from '../companion/onnx/numerics';
import { listedProviders } from '../companion/onnx/providers';
import { verifyProvider } from '../companion/onnx/self-check';
import { availableProviders, DISABLE_CPU_FALLBACK, Session, type TensorData } from '../companion/onnx/session';
import { tinyNetworks } from './tiny-networks';

const GPU_PROVIDERS: readonly ExecutionProvider[] = ['cuda', 'webgpu', 'dml', 'coreml'];

function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  return [line(header), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

async function outputsOf(model: Parameters<typeof Session.create>[0], provider: ExecutionProvider, feeds: Record<string, TensorData>): Promise<Record<string, Float32Array>> {
  const s = await Session.create(model, { provider, logLevel: 'fatal', ...(provider !== 'cpu' ? { configEntries: DISABLE_CPU_FALLBACK } : {}) });
  try {
    const out = await s.run(feeds);
    const r: Record<string, Float32Array> = {};
    for (const [k, t] of Object.entries(out)) r[k] = toFloat32(t);
    return r;
  } finally {
    await s.release();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const pi = args.indexOf('--provider');
  const only = pi >= 0 ? args.splice(pi, 2)[1] : undefined;
  if (only !== undefined && !GPU_PROVIDERS.includes(only as ExecutionProvider)) throw new Error(`--provider must be one of ${GPU_PROVIDERS.join(', ')}, got ${JSON.stringify(only)}`);
  const fixtures = path.resolve(args[0] ?? path.join(__dirname, '..', '..', 'test', 'fixtures'));
  const t0 = Date.now();
  console.log(`node ${process.version}, ${process.platform}/${process.arch}; onnxruntime-node offers [${listedProviders().join(', ')}]`);
  const reports = await availableProviders();
  console.log(table(['provider', 'session starts', 'why not'], reports.map((r) => [r.provider, r.available ? 'yes' : 'no', (r.reason ?? '').slice(0, 110)])));
  const gpus = GPU_PROVIDERS.filter((p) => (only === undefined || p === only) && reports.some((r) => r.provider === p && r.available));

  const checks: string[][] = [];
  for (const provider of gpus) {
    for (const precision of ['fp16', 'fp32'] as const) {
      const r = await verifyProvider(provider, loweringFor(provider, precision), { cacheDir: null });
      checks.push([provider, precision, r.passed ? 'pass' : `FAIL ${r.code}`, Number.isFinite(r.maxRel) ? r.maxRel.toExponential(1) : '-',
        Object.entries(r.nodesByProvider).map(([p, n]) => `${p} ${n}`).join(', '), Number.isFinite(r.msPerStep) ? r.msPerStep.toFixed(1) : '-']);
    }
  }
  console.log(`\nself-check (tiny random network vs the CPU, CPU fallback disabled)\n${table(['provider', 'precision', 'verdict', 'max rel', 'nodes', 'ms/run'], checks)}`);

  const rows: string[][] = [];
  for (const net of tinyNetworks(fixtures)) {
    const ref32 = await outputsOf(net.build(loweringFor('cpu'), false), 'cpu', net.feeds);
    const ref16 = await outputsOf(net.build(loweringFor('cpu'), true), 'cpu', net.feeds);
    for (const provider of gpus) {
      for (const precision of ['fp32', 'fp16'] as const) {
        const feeds: Record<string, TensorData> = { ...net.feeds };
        if (precision === 'fp16') for (const n of net.computeInputs) feeds[n] = floatTensor('float16', net.feeds[n]!.dims, toFloat32(net.feeds[n]!));
        try {
          const t = Date.now();
          const got = await outputsOf(net.build(loweringFor(provider, precision), precision === 'fp16'), provider, feeds);
          const ref = precision === 'fp16' ? ref16 : ref32;
          let worst = 0;
          for (const [k, e] of Object.entries(ref)) worst = Math.max(worst, errorStats(got[k]!, e).maxRel);
          rows.push([net.name, provider, precision, worst.toExponential(2), `${Date.now() - t}`]);
        } catch (e) {
          rows.push([net.name, provider, precision, `FAILED: ${(e as Error).message.split('\n')[0]!.slice(0, 100)}`, '-']);
        }
      }
    }
  }
  console.log(`\ntiny-set parity (max |Δ| / max |cpu fp32|; fp16 against fp32 on the same fp16 weights)\n${table(['network', 'provider', 'precision', 'max rel vs CPU', 'create+run ms'], rows)}`);
  console.log(`total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main().catch((e: unknown) => {
  console.error(`gpu-check-node: ${(e as Error).message}`);
  process.exit(1);
});
