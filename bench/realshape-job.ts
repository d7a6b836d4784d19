/**
 * One StyleStudio job on the real-shape default set, in its own process so its peak RSS is its own:
 *
 *   node dist/bench/realshape-job.js --models HUB --width W --height H [--steps S] [--variations K]
 *        [--provider cpu] [--memory-budget SIZE] [--max-peak-gib G] [--denoise D] [--drop ELEMENT[,ELEMENT…]]
 *
 * --denoise D makes it an img2img job (an init image at the output size; int(S × D) steps run, the VAE encoder too).
 * --drop makes SCFG's negative one derived from the style image (the image encoder then also encodes it).
 *
 * Prints one JSON line (RealshapeJobResult). With --max-peak-gib it exits 1 when the job fails or its peak RSS is
 * above the ceiling (the CI smoke). Run it with MALLOC_MMAP_THRESHOLD_ set, as the CLI does for itself.
 */
import * as fs from 'node:fs';
import { defaultSetPaths } from '../companion/runtime/model-paths';
import { DEFAULTS } from '../companion/pipeline/request';
import { type PipelineEvent, type PipelineRequest, StyleStudioPipeline } from '../companion/pipeline/stylestudio-pipeline';
import { parseBudget } from '../companion/runtime/memory';
import { ModelSet } from '../companion/runtime/model-set';
import type { ExecutionProvider } from '../companion/onnx/lowering';
import { modelStatuses } from '../companion/weights/model-catalog';
import { DropSpecSchema, type DropElement } from '../protocol';

export interface RealshapeJobResult {
  readonly width: number;
  readonly height: number;
  readonly steps: number;
  readonly variations: number;
  /** img2img's denoise, or null for text-to-image. */
  readonly denoise: number | null;
  /** The derived negative's elements, or null for zero negative features. */
  readonly drop: readonly DropElement[] | null;
  readonly budgetBytes: number;
  /** ModelSet.open (configs, tokenizers, every weight header) and preflight (size, layers, adapter, memory plan). */
  readonly openMs: number;
  readonly preflightMs: number;
  readonly plannedPeakBytes: number;
  readonly creations: readonly { readonly network: string; readonly buildMs: number; readonly sessionMs: number }[];
  /** Conditioning (text + style) without session creation; conditioning runs per job (1 for every variation count). */
  readonly conditioningMs: number;
  readonly conditioningRuns: number;
  /** Per step, session creation excluded: the teacher's 4-row steps and the 2-row steps after. */
  readonly step4Ms: readonly number[];
  readonly step2Ms: readonly number[];
  readonly decodeMs: readonly number[];
  readonly peakRss: number;
  /** RSS when the first step starts (sessions created) and the most sampled (every 50 ms) while stepping. */
  readonly denoiseBaseRss: number;
  readonly denoisePeakRss: number;
  /** After the job with the UNet and decoder kept warm, and after the budget released everything. */
  readonly warmRss: number;
  readonly idleRss: number;
  readonly residentAfter: readonly string[];
  readonly ok: boolean;
  readonly error?: string;
}

function procStatus(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** A style (512², the default) or init image with structure at several scales (values only need to be deterministic). */
function patternImage(w = 512, h = w): { width: number; height: number; data: Uint8Array } {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      data[i] = (x * 7 + y * 3) & 255;
      data[i + 1] = ((x ^ y) * 5) & 255;
      data[i + 2] = Math.round(127.5 + 127.5 * Math.sin(x / 17) * Math.cos(y / 23));
      data[i + 3] = 255;
    }
  }
  return { width: w, height: h, data };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const hub = arg(args, '--models');
  if (hub === undefined) throw new Error('--models HUB is required');
  const width = Number(arg(args, '--width') ?? 64);
  const height = Number(arg(args, '--height') ?? 32);
  const steps = Number(arg(args, '--steps') ?? 1);
  const variations = Number(arg(args, '--variations') ?? 4);
  const provider = (arg(args, '--provider') ?? 'cpu') as ExecutionProvider;
  const budgetText = arg(args, '--memory-budget');
  const maxPeak = arg(args, '--max-peak-gib');
  const denoiseText = arg(args, '--denoise');
  const denoise = denoiseText === undefined ? null : Number(denoiseText);
  const dropText = arg(args, '--drop');
  const drop = dropText === undefined ? null : dropText.split(',').map((e) => DropSpecSchema.parse(e.trim()) as DropElement);
  const paths = defaultSetPaths(modelStatuses(hub));
  if (paths === null) throw new Error(`${hub}: the default set is not complete there (make it with npm run realshape)`);

  const t0 = performance.now();
  const set = await ModelSet.open(paths, { provider, ...(budgetText !== undefined ? { memoryBudget: parseBudget(budgetText) } : {}) });
  const openMs = performance.now() - t0;
  const pipeline = new StyleStudioPipeline(set);
  const request: PipelineRequest = {
    prompt: 'a lighthouse on a cliff at dusk', guidance: DEFAULTS.guidance, seed: 1, variations, width, height, style: patternImage(),
    crossModalAdain: true, adainStrength: DEFAULTS.adainStrength, scale: DEFAULTS.scale, styleLayers: { kind: 'adapter-default' },
    styleResize: 'none', teacherSteps: 1, steps,
    ...(denoise !== null ? { init: patternImage(width, height), denoise } : {}),
    ...(drop !== null ? { drop: drop.length === 1 ? drop[0]! : drop } : {}),
  };
  const t1 = performance.now();
  const plan = pipeline.preflight(request);
  const preflightMs = performance.now() - t1;

  const step4: number[] = [];
  const step2: number[] = [];
  const decode: number[] = [];
  let conditioningRuns = 0;
  let conditioningStart = 0;
  let conditioningMs = 0;
  let conditioningCreation = 0;
  let last = performance.now();
  let phase: PipelineEvent | null = null;
  let error: string | undefined;
  let sampledMax = 0;
  let baseRss = NaN;
  let beforeStepsRss = procStatus('VmRSS');
  let denoisePeak = 0;
  let stepping = false;
  const sampler = setInterval(() => {
    sampledMax = Math.max(sampledMax, procStatus('VmRSS'));
  }, 50);
  const created = () => set.creations.reduce((n, c) => n + c.buildMs + c.sessionMs, 0);
  let createdAt = created();
  try {
    for await (const e of pipeline.run(request)) {
      const now = performance.now();
      const creation = created() - createdAt; // sessions created since the last event: not part of the work timed
      createdAt = created();
      if (e.kind === 'phase') {
        if (e.phase === 'conditioning' && e.network === 'text-encoders') {
          conditioningRuns++;
          conditioningStart = now;
          conditioningCreation = 0;
        } else if (e.phase === 'conditioning' || e.phase === 'denoise') {
          conditioningCreation += creation; // the text encoders' creation, then the image encoder's
        }
        if (e.phase === 'denoise') conditioningMs += now - conditioningStart - conditioningCreation;
        phase = e;
        last = now;
        beforeStepsRss = procStatus('VmRSS');
        sampledMax = beforeStepsRss;
        continue;
      }
      if (e.kind === 'step' && !stepping) {
        stepping = true;
        baseRss = beforeStepsRss; // the last event before the first step came after every session was created
      }
      if (e.kind === 'step') denoisePeak = Math.max(denoisePeak, sampledMax);
      const took = now - last - creation;
      if (e.kind === 'step') (e.progress.step <= 1 ? step4 : step2).push(took);
      else if (phase !== null) decode.push(took);
      last = now;
    }
  } catch (e) {
    error = (e as Error).message;
  }
  clearInterval(sampler);
  const peakRss = procStatus('VmHWM');
  const warmRss = procStatus('VmRSS');
  await set.cache.dropUnpinned();
  await new Promise((r) => setTimeout(r, 2000));
  const idleRss = procStatus('VmRSS');
  const result: RealshapeJobResult = {
    width, height, steps, variations, denoise, drop, budgetBytes: set.memoryBudget, openMs, preflightMs, plannedPeakBytes: plan.memory.peakBytes,
    creations: set.creations, conditioningMs, conditioningRuns, step4Ms: step4, step2Ms: step2, decodeMs: decode,
    peakRss, denoiseBaseRss: baseRss, denoisePeakRss: denoisePeak, warmRss, idleRss, residentAfter: set.cache.list().map((e) => e.kind), ok: error === undefined,
    ...(error !== undefined ? { error } : {}),
  };
  await set.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (maxPeak !== undefined) {
    const ceiling = Number(maxPeak) * 2 ** 30;
    if (!result.ok || peakRss > ceiling) {
      process.stderr.write(`realshape job ${result.ok ? `peak RSS ${(peakRss / 2 ** 30).toFixed(2)} GiB exceeds ${maxPeak} GiB` : `failed: ${error}`}\n`);
      process.exitCode = 1;
    }
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`realshape-job: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
