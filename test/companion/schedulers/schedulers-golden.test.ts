import * as fs from 'node:fs';
import { fixture } from '../../helpers/paths';
import { TorchCpuGenerator, randn } from '../../../companion/rng';
import { schedulerFromConfig, type Schedule, type SchedulerName } from '../../../companion/schedulers';
import { asFloat32, asFloat64, readSafetensors, type FixtureTensor } from '../rng/safetensors-fixture';
import { REL_TOL, maxElementRelError, maxScaledError } from './golden-compare';

// Goldens from tools/golden/schedulers.py (diffusers 0.40): every scheduler variant at 1, 4, 30, 50 steps.

const golden = readSafetensors(fixture('golden', 'schedulers.safetensors'));
interface Run { steps: number; key: string; init_noise_sigma: number; recorded_steps: number[]; scaled_steps: number[] }
interface Variant { name: string; class: string; scheduler: SchedulerName; overrides: Record<string, unknown>; runs: Run[] }
const sidecar = JSON.parse(fs.readFileSync(fixture('golden', 'schedulers.json'), 'utf8')) as {
  sample_shape: number[]; sample_seed: number; model_output_seed_base: number; ancestral_seed: number; variants: Variant[];
};
const sdxlConfig = JSON.parse(fs.readFileSync(fixture('golden', 'sdxl-scheduler_config.json'), 'utf8')) as Record<string, unknown>;

function tensor(name: string): FixtureTensor {
  const t = golden.get(name);
  if (!t) throw new Error(`golden tensor ${name} missing`);
  return t;
}

function sigmasOf(s: Schedule): Float64Array | undefined {
  return 'sigmas' in s ? s.sigmas : undefined;
}

const cases = sidecar.variants.flatMap((v) => v.runs.map((r) => [`${v.name} (${v.class}) ${r.steps} steps`, v, r] as const));
const shape = sidecar.sample_shape;
const modelOutputAt = (i: number): Float32Array => randn(new TorchCpuGenerator(sidecar.model_output_seed_base + i), shape);

function build(variant: Variant) {
  return schedulerFromConfig({ ...sdxlConfig, _class_name: variant.class, ...variant.overrides }, variant.scheduler);
}

/** The generator as diffusers' loop leaves it before step i: one noise draw per earlier step. */
function generatorBefore(i: number, length: number): TorchCpuGenerator {
  const g = new TorchCpuGenerator(sidecar.ancestral_seed);
  for (let k = 0; k < i; k++) randn(g, [length]);
  return g;
}

describe('schedulers vs diffusers goldens (tools/golden/schedulers.py)', () => {
  test('every variant and step count is present', () => {
    expect(cases.length).toBe(sidecar.variants.length * 4);
    expect(new Set(sidecar.variants.map((v) => v.scheduler))).toEqual(new Set(['euler', 'euler-a', 'dpmpp-2m', 'dpmpp-2m-karras', 'ddim']));
  });

  test.each(cases)('%s: timesteps, sigmas, init_noise_sigma within 1e-6', (_, variant, run) => {
    const schedule = build(variant).schedule(run.steps);
    expect(maxElementRelError(schedule.timesteps, asFloat64(tensor(`${run.key}.timesteps`)))).toBeLessThanOrEqual(REL_TOL);
    if (golden.has(`${run.key}.sigmas`)) {
      const sigmas = sigmasOf(schedule);
      expect(sigmas).toBeDefined();
      expect(maxElementRelError(sigmas!, asFloat32(tensor(`${run.key}.sigmas`)))).toBeLessThanOrEqual(REL_TOL);
    }
    expect(maxElementRelError([schedule.initNoiseSigma], [run.init_noise_sigma])).toBeLessThanOrEqual(REL_TOL);
  });

  test.each(cases)('%s: each recorded step on diffusers\' own inputs within 1e-6', (_, variant, run) => {
    const scheduler = build(variant);
    const schedule = scheduler.schedule(run.steps);
    for (const i of run.scaled_steps) {
      const scaled = scheduler.scaleModelInput(schedule, i, asFloat32(tensor(`${run.key}.step${i}.sample_in`)));
      expect(maxScaledError(scaled, asFloat32(tensor(`${run.key}.step${i}.scaled`)))).toBeLessThanOrEqual(REL_TOL);
    }
    for (const i of run.recorded_steps) {
      const sample = asFloat32(tensor(`${run.key}.step${i}.sample_in`));
      let state = scheduler.initialState();
      if (state.kind === 'dpm' && i > 0) {
        // DPM++ remembers the previous step's x0, which depends only on that step's own inputs
        const before = { kind: 'dpm' as const, dpm: { previousX0: null, lowerOrderNums: Math.min(i - 1, 2) } };
        const prevIn = asFloat32(tensor(`${run.key}.step${i - 1}.sample_in`));
        state = scheduler.step(schedule, i - 1, prevIn, modelOutputAt(i - 1), before).state;
      }
      const out = scheduler.step(schedule, i, sample, modelOutputAt(i), state, { generator: generatorBefore(i, sample.length) });
      const prevError = maxScaledError(out.prevSample, asFloat32(tensor(`${run.key}.step${i}.prev_sample`)));
      const predName = `${run.key}.step${i}.pred_original_sample`;
      const predError = golden.has(predName) && out.predOriginalSample ? maxScaledError(out.predOriginalSample, asFloat32(tensor(predName))) : 0;
      // reported with the step index so a failure says where
      const within = (e: number): number | 'ok' => (e <= REL_TOL ? 'ok' : e);
      expect({ step: i, prev: within(prevError), pred: within(predError) }).toEqual({ step: i, prev: 'ok', pred: 'ok' });
    }
  });

  // The whole loop from the same start: float32 rounding differences (torch takes sqrt/log/exp from
  // MKL, we round exactly) compound over 50 steps to ~1e-6, so the chain is held to 1e-5.
  test.each(cases)('%s: full sampling loop stays within 1e-5', (_, variant, run) => {
    const scheduler = build(variant);
    const schedule = scheduler.schedule(run.steps);
    let sample: Float32Array = randn(new TorchCpuGenerator(sidecar.sample_seed), shape).map((x) => Math.fround(x * schedule.initNoiseSigma));
    let state = scheduler.initialState();
    const generator = new TorchCpuGenerator(sidecar.ancestral_seed);
    for (let i = 0; i < schedule.timesteps.length; i++) {
      const out = scheduler.step(schedule, i, sample, modelOutputAt(i), state, { generator });
      if (run.recorded_steps.includes(i)) {
        expect(maxScaledError(out.prevSample, asFloat32(tensor(`${run.key}.step${i}.prev_sample`)))).toBeLessThanOrEqual(1e-5);
      }
      sample = out.prevSample;
      state = out.state;
    }
  });
});
