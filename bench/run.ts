/**
 * `npm run bench`: prints, in one run, the figures of ARCHITECTURE.md "Performance, measured side by side".
 *
 *   (a) one UNet step on CPU: ours (onnxruntime-node, our graph, the CPU lowering: fp32, MultiHeadAttention) vs PyTorch diffusers on the same
 *       architecture, the same weight files and the same inputs, same thread count, batch 2 and batch 4 (teacher);
 *   (b) UNet row-evaluations per image: reference StyleStudio vs ours;
 *   (c) the full SDXL UNet (random fp16 weights in a temporary file): build, session create, one 256×256 step,
 *       peak RSS against weight bytes (its own process);
 *   (d) UNet seconds per StyleStudio image (S 50, T 20) projected from (a): reference vs ours;
 *   (e) the daemon's RSS over 100 tiny jobs on the real `serve` (daemon-rss.ts, its own processes).
 * Environment: STYLESTUDIO_PYTHON (interpreter with torch + diffusers), STYLESTUDIO_BENCH_THREADS (default: 1 and all
 * cores; a comma list runs each), STYLESTUDIO_BENCH_RUNS (timed steps per side, default 3), STYLESTUDIO_BENCH_SDXL=0 skips (c),
 * STYLESTUDIO_BENCH_ONLY=a,b,e runs a subset. Timing numbers are printed, never asserted.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loweringFor } from '../companion/onnx/lowering';
import { unetRowEvaluations } from '../companion/pipeline/rows';
import { findPython, type PythonInfo, runPythonScript } from './python';
import type { SdxlSizeResult } from './sdxl-size';
import { type Cell, formatTable, gib, median, seconds } from './table';
import { buildUNetGraph, feedsFrom, readF32Tensors, relativeError, TimedSession, WEIGHT_FILE } from './unet-step';

const CONFIG_DIR = path.resolve(__dirname, '..', '..', 'bench', 'configs');
const MID_CONFIG = path.join(CONFIG_DIR, 'unet-mid.json');
const SDXL_CONFIG = path.join(CONFIG_DIR, 'unet-sdxl-base.json');
/** Latent size of benchmark (a): 32×32 = 256×256 pixels. */
const MID_LATENT = 32;
const GOAL = 0.7;

interface TorchStep {
  load_s: number;
  times_s: number[];
  threads: number;
}

function envInts(name: string, fallback: readonly number[]): number[] {
  const v = process.env[name];
  if (v === undefined || v === '') return [...fallback];
  const ns = v.split(',').map((x) => Number(x.trim()));
  if (ns.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`${name} must be a positive integer or a comma list of them, got ${JSON.stringify(v)}`);
  return ns;
}

function onnxruntimeVersion(): string {
  const file = require.resolve('onnxruntime-node/package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

function machineLine(threads: readonly number[]): string {
  const cpus = os.cpus();
  return `machine: ${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${gib(os.totalmem())} GiB RAM, ${os.platform()}/${os.arch()}; ` +
    `node ${process.version}, onnxruntime-node ${onnxruntimeVersion()}; threads per side ${threads.join(' and ')}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`;
}

function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `stylestudio-bench-${tag}-`));
}

// ── (b) ──────────────────────────────────────────────────────────────────────────────────────────────────

function rowEvaluationsTable(): string {
  const cases: [number, number | null][] = [[50, 20], [30, 12], [25, 10], [20, 8], [50, 50], [50, null]];
  const rows = cases.map(([s, t]): Cell[] => {
    const reference = t === null ? 2 * s : 4 * s; // the reference keeps the teacher rows for every step
    const ours = unetRowEvaluations(s, t);
    return [s, t ?? 'off', reference, ours, `${((1 - ours / reference) * 100).toFixed(0)} %`];
  });
  return formatTable(['steps S', 'teacher T', 'reference StyleStudio', 'ours 4T + 2(S−T)', 'saved'], rows);
}

// ── (a) ──────────────────────────────────────────────────────────────────────────────────────────────────

/** Fastest step of each side per (threads, batch), kept for (d)'s per-image projection. */
const fastestSteps: { threads: number; batch: number; torchS: number; oursS: number }[] = [];

async function unetStepTable(py: PythonInfo, threadCounts: readonly number[], runs: number): Promise<string> {
  const dir = tempDir('mid');
  try {
    const written = runPythonScript<{ params: number }>(py.exe, 'random_weights.py', [MID_CONFIG, dir, '--init', 'torch', '--dtypes', 'fp32']);
    const weightBytes = fs.statSync(path.join(dir, WEIGHT_FILE.fp32)).size;
    const rows: Cell[][] = [];
    for (const threads of threadCounts) {
      for (const batch of [2, 4]) {
        const teacherShare = batch === 4;
        const io = path.join(dir, `io-t${threads}-b${batch}.safetensors`);
        const shape = { batch, height: MID_LATENT, width: MID_LATENT, teacherShare };
        const torchArgs = (withIo: boolean) => [
          dir, '--batch', String(batch), '--height', String(MID_LATENT), '--width', String(MID_LATENT),
          '--threads', String(threads), '--runs', '1', '--warmup', '1', ...(withIo ? ['--io', io] : []),
        ];
        // Rounds alternate the two sides, so a burst of load on this machine hits both alike.
        const torchTimes: number[] = [];
        torchTimes.push(...runPythonScript<TorchStep>(py.exe, 'torch_unet_step.py', torchArgs(true)).times_s);
        const { graph, buildMs } = buildUNetGraph(dir, WEIGHT_FILE.fp32, loweringFor('cpu'), shape);
        const tensors = readF32Tensors(io);
        const session = await TimedSession.open(graph, feedsFrom(tensors, 'float32', shape), threads);
        const oursMs: number[] = [];
        let output: Float32Array = new Float32Array(0);
        try {
          for (let r = 0; r < runs; r++) {
            if (r > 0) torchTimes.push(...runPythonScript<TorchStep>(py.exe, 'torch_unet_step.py', torchArgs(false)).times_s);
            const step = await session.step();
            oursMs.push(step.ms);
            output = step.output;
          }
        } finally {
          await session.release();
        }
        const ours = { createMs: session.createMs, stepsMs: oursMs };
        const err = relativeError(output, tensors.get('out.noise_pred')!.data);
        const tMin = Math.min(...torchTimes);
        const oMin = Math.min(...ours.stepsMs) / 1000;
        fastestSteps.push({ threads, batch, torchS: tMin, oursS: oMin });
        rows.push([
          threads, teacherShare ? `${batch} (teacher)` : `${batch}`,
          seconds(tMin), seconds(median(torchTimes)),
          seconds(oMin), seconds(median(ours.stepsMs) / 1000),
          `${(oMin / tMin).toFixed(2)}×`, err.toExponential(1),
          `${(buildMs / 1000).toFixed(2)} / ${(ours.createMs / 1000).toFixed(2)}`,
        ]);
      }
    }
    const head = `UNet: ${path.basename(MID_CONFIG)} (${(written.params / 1e6).toFixed(0)} M params, ${gib(weightBytes)} GiB fp32), ` +
      `latent ${MID_LATENT}×${MID_LATENT} (256×256 px), fp32, CPU; ${runs} rounds, each one timed step per side (PyTorch and ours alternating, each warmed up); ` +
      `PyTorch ${py.torch} + diffusers ${py.diffusers} (${py.exe}); ratio of the fastest steps; goal ≤ ${GOAL.toFixed(2)}×`;
    return `${head}\n${formatTable(
      ['threads', 'batch', 'PyTorch min s', 'PyTorch median s', 'ours min s', 'ours median s', 'ours/PyTorch', 'noise_pred rel diff', 'ours build / create s'],
      rows,
    )}`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ── (c) ──────────────────────────────────────────────────────────────────────────────────────────────────

function sdxlSizeTable(py: PythonInfo, threads: number): string {
  const dir = tempDir('sdxl');
  try {
    const t0 = performance.now();
    const written = runPythonScript<{ params: number }>(py.exe, 'random_weights.py', [SDXL_CONFIG, dir, '--init', 'hash', '--dtypes', 'fp16']);
    const writeS = (performance.now() - t0) / 1000;
    const child = spawnSync(process.execPath, [path.join(__dirname, 'sdxl-size.js'), dir, '--threads', String(threads)], {
      encoding: 'utf8', maxBuffer: 16 << 20,
    });
    if (child.status !== 0) {
      return `SDXL-size step failed (${child.signal ?? `exit ${child.status}`}): ${(child.stderr || '').trim().split('\n').slice(-4).join(' | ')}`;
    }
    const r = JSON.parse(child.stdout.trim().split('\n').pop()!) as SdxlSizeResult;
    const rows: Cell[][] = [
      ['weights (random, fp16 file)', `${(written.params / 1e9).toFixed(2)} G params, ${gib(r.weightBytes)} GiB; written in ${seconds(writeS)} s`],
      ['graph', `${r.nodes} nodes, ${(r.modelBytes / 2 ** 20).toFixed(1)} MiB protobuf (weights external)`],
      ['build (config + header → graph → bytes)', `${seconds(r.buildMs / 1000)} s`],
      ['session create (CPU lowering, fp32)', `${seconds(r.createMs / 1000)} s`],
      ['one step, batch 2, 256×256', `${seconds(r.stepMs / 1000)} s (output finite: ${r.outputFinite ? 'yes' : 'NO'})`],
      ['RSS after build / create / step', `${gib(r.rssAfterBuild)} / ${gib(r.rssAfterCreate)} / ${gib(r.rssAfterStep)} GiB`],
      ...(r.rssAnonAfterStep !== null && r.rssFileAfterStep !== null
        ? [['of which after the step: anonymous / file-backed (the mapped weight file)', `${gib(r.rssAnonAfterStep)} / ${gib(r.rssFileAfterStep)} GiB`] as Cell[]]
        : []),
      ['peak RSS', `${gib(r.peakRss)} GiB = ${(r.peakRss / r.weightBytes).toFixed(2)} × fp16 weight bytes`],
    ];
    return `SDXL base UNet config (${path.basename(SDXL_CONFIG)}), CPU, ${threads} threads\n${formatTable(['what', 'measured'], rows)}`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ── (d) ──────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * UNet time of one StyleStudio image (teacher on) projected from (a)'s fastest steps: the reference runs the 4-row
 * batch for all S steps in PyTorch; ours runs 4 rows for T steps and 2 rows after. Arithmetic on measured steps,
 * not a run of the pipeline (that needs the real SDXL weights).
 */
function perImageProjection(): string {
  if (fastestSteps.length === 0) return 'skipped: needs (a)';
  const S = 50;
  const T = 20;
  const rows: Cell[][] = [];
  for (const threads of [...new Set(fastestSteps.map((f) => f.threads))]) {
    const at = (batch: number) => fastestSteps.find((f) => f.threads === threads && f.batch === batch);
    const b2 = at(2);
    const b4 = at(4);
    if (b2 === undefined || b4 === undefined) continue;
    const reference = S * b4.torchS;
    const oursKept = S * b4.oursS;
    const ours = T * b4.oursS + (S - T) * b2.oursS;
    rows.push([threads, seconds(reference), seconds(oursKept), seconds(ours), `${(ours / reference).toFixed(2)}×`]);
  }
  return `mid-size UNet of (a), 256×256, S = ${S}, T = ${T}: UNet seconds per image\n${formatTable(
    ['threads', 'reference (PyTorch, 4 rows × S)', 'ours, teacher kept (4 rows × S)', `ours (4 rows × T + 2 rows × (S − T))`, 'ours/reference'],
    rows,
  )}`;
}

// ── (e) ──────────────────────────────────────────────────────────────────────────────────────────────────

function daemonRssSection(): string {
  const child = spawnSync(process.execPath, [path.join(__dirname, 'daemon-rss.js'), '100'], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (child.status !== 0) return `daemon RSS run failed (${child.signal ?? `exit ${child.status}`}): ${(child.stderr || '').trim().split('\n').slice(-4).join(' | ')}`;
  return child.stdout.trimEnd();
}

// ── main ─────────────────────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  const cores = os.availableParallelism();
  // 1 thread as well: on a busy machine OpenMP's barriers make PyTorch's multi-threaded steps erratic
  const threadCounts = envInts('STYLESTUDIO_BENCH_THREADS', cores > 1 ? [1, cores] : [1]);
  const threads = Math.max(...threadCounts);
  const runs = envInts('STYLESTUDIO_BENCH_RUNS', [3])[0]!;
  const only = new Set((process.env['STYLESTUDIO_BENCH_ONLY'] ?? 'a,b,c,d,e').split(',').map((s) => s.trim()));
  const sdxl = process.env['STYLESTUDIO_BENCH_SDXL'] !== '0';
  console.log(`StyleStudio benchmarks — ${new Date().toISOString()}`);
  console.log(machineLine(threadCounts));
  const py = only.has('a') || only.has('c') ? findPython() : { missing: 'not needed' };

  if (only.has('a')) {
    console.log('\n(a) One UNet step on CPU: ours (onnxruntime-node, CPU lowering fp32) vs PyTorch diffusers');
    console.log('missing' in py ? `skipped: ${py.missing}` : await unetStepTable(py, threadCounts, runs));
  }
  if (only.has('b')) {
    console.log('\n(b) UNet row-evaluations per image (teacher on: reference keeps 4 rows every step, ours drops the teacher after T)');
    console.log(rowEvaluationsTable());
  }
  if (only.has('c')) {
    console.log('\n(c) Full SDXL-size UNet graph, random weights, CPU');
    if (!sdxl) console.log('skipped: STYLESTUDIO_BENCH_SDXL=0');
    else if ('missing' in py) console.log(`skipped (the random weight file is written by tools/bench/random_weights.py): ${py.missing}`);
    else console.log(sdxlSizeTable(py, threads));
  }
  if (only.has('d')) {
    console.log('\n(d) StyleStudio UNet time per image, projected from (a): reference vs ours (teacher rows dropped after T)');
    console.log(perImageProjection());
  }
  if (only.has('e')) {
    console.log('\n(e) Daemon memory: the real `stylestudio serve` on the tiny model set, RSS over 100 jobs');
    console.log(daemonRssSection());
  }
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
