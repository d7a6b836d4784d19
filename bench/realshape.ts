/**
 * `npm run bench:realshape -- [--models HUB] [--sizes 64x32,512x512] [--steps S] [--variations K] [--memory-budget SIZE]
 *   [--provider cpu|webgpu|cuda|dml|coreml]`
 *
 * A StyleStudio job (style image, teacher on, K variations) on the real-shape default set made by
 * `npm run realshape` (default HUB: ~/.cache/stylestudio-realshape/hub), CPU fp32, each size in its own process
 * (realshape-job.ts) with the allocator settings the CLI uses. Prints the per-phase table that docs/BENCHMARKS.md
 * quotes. Timing numbers are printed, never asserted.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { MMAP_THRESHOLD_BYTES } from '../companion/runtime/allocator';
import type { RealshapeJobResult } from './realshape-job';
import { formatTable, gib, median, seconds } from './table';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const hub = path.resolve(arg('--models', path.join(os.homedir(), '.cache', 'stylestudio-realshape', 'hub')));
const sizes = arg('--sizes', '64x32,512x512').split(',').map((s) => s.split('x').map(Number) as [number, number]);
const steps = arg('--steps', '2');
const variations = arg('--variations', '4');
const budget = process.argv.includes('--memory-budget') ? ['--memory-budget', arg('--memory-budget', '')] : [];
const provider = arg('--provider', 'cpu');

const results: RealshapeJobResult[] = [];
for (const [w, h] of sizes) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [path.join(__dirname, 'realshape-job.js'), '--models', hub, '--width', String(w), '--height', String(h),
    '--steps', steps, '--variations', variations, '--provider', provider, ...budget], {
    encoding: 'utf8', env: { ...process.env, MALLOC_MMAP_THRESHOLD_: String(MMAP_THRESHOLD_BYTES) }, maxBuffer: 1 << 24,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || line === '') {
    process.stderr.write(`${w}×${h}: the job process failed (${r.status}): ${r.stderr.trim()}\n`);
    process.exitCode = 1;
    continue;
  }
  const result = JSON.parse(line) as RealshapeJobResult;
  results.push(result);
  process.stderr.write(`${w}×${h}: ${((Date.now() - started) / 1000).toFixed(0)} s wall${result.ok ? '' : `, FAILED: ${result.error}`}\n`);
}

const s = (ms: number) => seconds(ms / 1000);
const creation = (r: RealshapeJobResult, network: string) => {
  // 'text-encoder' covers text-encoder and text-encoder-2
  const c = r.creations.filter((x) => x.network === network || x.network.startsWith(`${network}-`));
  return c.length === 0 ? '–' : c.map((x) => `${s(x.buildMs)} + ${s(x.sessionMs)}`).join(', ');
};
const cpus = os.cpus();
process.stdout.write(`real-shape default set (${hub}), ${provider} fp32; ${cpus.length} × ${cpus[0]?.model ?? 'CPU'}, ${gib(os.totalmem())} GiB RAM; ` +
  `node ${process.version}; StyleStudio job: style image, teacher 1 step, ${steps} steps, ${variations} variations\n\n`);
process.stdout.write(`${formatTable(
  ['size', 'job', 'open + preflight s', 'text enc. build + create s', 'image enc. build + create s', 'UNet build + create s', 'VAE dec. build + create s',
    'conditioning s (runs)', 'step 4 rows s', 'step 2 rows s', 'decode s', 'denoise RSS GiB: base → peak', 'peak RSS GiB (planned)', 'warm RSS GiB', 'idle RSS GiB', 'budget GiB'],
  results.map((r) => [
    `${r.width}×${r.height}`, r.ok ? 'ok' : 'FAILED', `${s(r.openMs)} + ${s(r.preflightMs)}`,
    creation(r, 'text-encoder'), creation(r, 'image-encoder'), creation(r, 'unet'), creation(r, 'vae-decoder'),
    `${s(r.conditioningMs)} (${r.conditioningRuns})`,
    r.step4Ms.length ? s(median(r.step4Ms)) : '–', r.step2Ms.length ? s(median(r.step2Ms)) : '–', r.decodeMs.length ? s(median(r.decodeMs)) : '–',
    `${gib(r.denoiseBaseRss)} → ${gib(r.denoisePeakRss)}`, `${gib(r.peakRss)} (${gib(r.plannedPeakBytes)})`, gib(r.warmRss), gib(r.idleRss), gib(r.budgetBytes),
  ]),
)}\n`);
