/**
 * One interface over the four schedulers, built from a diffusers scheduler_config.json.
 * Everything is pure: a schedule is a frozen table, the step index is an argument, a multistep
 * solver's memory is a state value passed in and returned, and noise comes from the caller's generator.
 */

import { SchedulerConfigError } from './config';
import { ddimAddNoise, ddimScaleModelInput, ddimSchedule, ddimStep, parseDdimConfig, type DdimSchedule } from './ddim';
import {
  DPM_INITIAL_STATE, dpmSolverAddNoise, dpmSolverScaleModelInput, dpmSolverSchedule, dpmSolverStep, parseDpmSolverConfig,
  type DpmSolverSchedule, type DpmSolverState,
} from './dpmpp-2m';
import { eulerScaleModelInput, eulerSchedule, eulerStep, parseEulerConfig, sigmaAddNoise, type EulerSchedule } from './euler';
import {
  eulerAncestralScaleModelInput, eulerAncestralSchedule, eulerAncestralStep, parseEulerAncestralConfig,
  type EulerAncestralSchedule,
} from './euler-ancestral';
import type { TorchCpuGenerator } from '../rng/torch-generator';

export { SchedulerConfigError } from './config';
export type { EulerSchedule, EulerAncestralSchedule, DpmSolverSchedule, DpmSolverState, DdimSchedule };
// the per-scheduler pure functions, for callers that know which one they want
export { eulerSchedule, eulerScaleModelInput, eulerStep, parseEulerConfig } from './euler';
export { eulerAncestralSchedule, eulerAncestralScaleModelInput, eulerAncestralStep, parseEulerAncestralConfig } from './euler-ancestral';
export { DPM_INITIAL_STATE, dpmSolverSchedule, dpmSolverScaleModelInput, dpmSolverStep, parseDpmSolverConfig } from './dpmpp-2m';
export { ddimSchedule, ddimScaleModelInput, ddimStep, parseDdimConfig } from './ddim';

/** Our scheduler names: the GenerationSpec's, one naming for panel, CLI and engine. */
export { SCHEDULER_NAMES, type SchedulerName } from '../../protocol/generation-spec';
import { SCHEDULER_NAMES, type SchedulerName } from '../../protocol/generation-spec';

/** diffusers class → our name (DPMSolverMultistep becomes dpmpp-2m-karras when its config says so). */
const CLASS_NAMES: Record<string, SchedulerName> = {
  EulerDiscreteScheduler: 'euler',
  EulerAncestralDiscreteScheduler: 'euler-a',
  DPMSolverMultistepScheduler: 'dpmpp-2m',
  DDIMScheduler: 'ddim',
};

export type Schedule = EulerSchedule | EulerAncestralSchedule | DpmSolverSchedule | DdimSchedule;

/** Opaque per-run memory of a scheduler (only DPM++ 2M keeps anything). */
export type SchedulerState = { readonly kind: 'none' } | { readonly kind: 'dpm'; readonly dpm: DpmSolverState };

export interface StepOptions {
  /** Ancestral noise source: torch.randn(shape, generator) like diffusers' randn_tensor (advanced here). */
  readonly generator?: TorchCpuGenerator;
  /** Or the ancestral noise itself (e.g. one generator per batch row, drawn by the caller). */
  readonly noise?: Float32Array;
}

export interface StepOutput {
  readonly prevSample: Float32Array;
  /** The model's x0 estimate (all but DPM++, whose x0 is in its state). */
  readonly predOriginalSample?: Float32Array;
  readonly state: SchedulerState;
}

export interface Scheduler {
  readonly name: SchedulerName;
  /** Each step draws fresh noise (ancestral samplers): the caller supplies it through StepOptions. */
  readonly stochastic: boolean;
  /** set_timesteps(steps): timesteps (what the UNet gets), sigmas where the scheduler has them, init noise sigma. */
  schedule(steps: number): Schedule;
  /** The state before step 0. */
  initialState(): SchedulerState;
  /** scale_model_input(sample, timesteps[i]) */
  scaleModelInput(schedule: Schedule, i: number, sample: Float32Array): Float32Array;
  /**
   * add_noise(original, noise, timesteps[i]) after set_begin_index(i): img2img's starting latents when the run
   * begins at step index i (diffusers' get_timesteps), in the space step() works in.
   */
  addNoise(schedule: Schedule, i: number, original: Float32Array, noise: Float32Array): Float32Array;
  /** step(model_output, timesteps[i], sample) → prev_sample */
  step(schedule: Schedule, i: number, sample: Float32Array, modelOutput: Float32Array, state: SchedulerState, options?: StepOptions): StepOutput;
}

function expectKind<K extends Schedule['kind']>(s: Schedule, kind: K): Extract<Schedule, { kind: K }> {
  if (s.kind !== kind) throw new TypeError(`a ${s.kind} schedule was passed to the ${kind} scheduler`);
  return s as Extract<Schedule, { kind: K }>;
}

const NO_STATE: SchedulerState = { kind: 'none' };

/**
 * A scheduler from scheduler_config.json contents. Without `name` the config's `_class_name` decides;
 * with one, the config is reused for that scheduler the way diffusers' `X.from_config(config)` does
 * (`dpmpp-2m` forces use_karras_sigmas off, `dpmpp-2m-karras` on).
 */
export function schedulerFromConfig(json: unknown, name?: SchedulerName | string, source = 'scheduler_config.json'): Scheduler {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SchedulerConfigError(`${source}: expected a JSON object`);
  }
  const record = json as Record<string, unknown>;
  let chosen: SchedulerName;
  if (name === undefined) {
    const cls = record['_class_name'];
    const mapped = typeof cls === 'string' ? CLASS_NAMES[cls] : undefined;
    if (mapped === undefined) {
      throw new SchedulerConfigError(
        `${source}: "_class_name" = ${JSON.stringify(cls)} is not supported (supported: ${Object.keys(CLASS_NAMES).join(', ')}); pick one with --scheduler ${SCHEDULER_NAMES.join('|')}`,
      );
    }
    chosen = mapped === 'dpmpp-2m' && record['use_karras_sigmas'] === true ? 'dpmpp-2m-karras' : mapped;
  } else {
    if (!(SCHEDULER_NAMES as readonly string[]).includes(name)) {
      throw new SchedulerConfigError(`unknown scheduler "${name}" (supported: ${SCHEDULER_NAMES.join(', ')})`);
    }
    chosen = name as SchedulerName;
  }
  switch (chosen) {
    case 'euler': {
      const cfg = parseEulerConfig(json, source);
      return {
        name: chosen,
        stochastic: false,
        schedule: (steps) => eulerSchedule(cfg, steps),
        initialState: () => NO_STATE,
        scaleModelInput: (s, i, x) => eulerScaleModelInput(expectKind(s, 'euler'), i, x),
        addNoise: (s, i, x, n) => { const e = expectKind(s, 'euler'); return sigmaAddNoise(e.sigmas, e.steps, i, x, n, 'EulerDiscreteScheduler'); },
        step: (s, i, x, m) => ({ ...eulerStep(expectKind(s, 'euler'), i, x, m), state: NO_STATE }),
      };
    }
    case 'euler-a': {
      const cfg = parseEulerAncestralConfig(json, source);
      return {
        name: chosen,
        stochastic: true,
        schedule: (steps) => eulerAncestralSchedule(cfg, steps),
        initialState: () => NO_STATE,
        scaleModelInput: (s, i, x) => eulerAncestralScaleModelInput(expectKind(s, 'euler-ancestral'), i, x),
        addNoise: (s, i, x, n) => {
          const e = expectKind(s, 'euler-ancestral');
          return sigmaAddNoise(e.sigmas, e.steps, i, x, n, 'EulerAncestralDiscreteScheduler');
        },
        step: (s, i, x, m, _state, options) => {
          const source = options?.noise !== undefined ? { noise: options.noise }
            : options?.generator !== undefined ? { generator: options.generator } : undefined;
          if (source === undefined) throw new TypeError('euler-a: step needs a generator or explicit noise');
          return { ...eulerAncestralStep(expectKind(s, 'euler-ancestral'), i, x, m, source), state: NO_STATE };
        },
      };
    }
    case 'dpmpp-2m':
    case 'dpmpp-2m-karras': {
      const cfg = parseDpmSolverConfig({ ...record, use_karras_sigmas: chosen === 'dpmpp-2m-karras' }, source);
      return {
        name: chosen,
        stochastic: false,
        schedule: (steps) => dpmSolverSchedule(cfg, steps),
        initialState: () => ({ kind: 'dpm', dpm: DPM_INITIAL_STATE }),
        scaleModelInput: (s, i, x) => dpmSolverScaleModelInput(expectKind(s, 'dpmpp-2m'), i, x),
        addNoise: (s, i, x, n) => dpmSolverAddNoise(expectKind(s, 'dpmpp-2m'), i, x, n),
        step: (s, i, x, m, state) => {
          if (state.kind !== 'dpm') throw new TypeError('dpmpp-2m: step needs the state returned by the previous step');
          const r = dpmSolverStep(expectKind(s, 'dpmpp-2m'), i, x, m, state.dpm);
          return { prevSample: r.prevSample, state: { kind: 'dpm', dpm: r.state } };
        },
      };
    }
    case 'ddim': {
      const cfg = parseDdimConfig(json, source);
      return {
        name: chosen,
        stochastic: false,
        schedule: (steps) => ddimSchedule(cfg, steps),
        initialState: () => NO_STATE,
        scaleModelInput: (s, i, x) => ddimScaleModelInput(expectKind(s, 'ddim'), i, x),
        addNoise: (s, i, x, n) => ddimAddNoise(expectKind(s, 'ddim'), i, x, n),
        step: (s, i, x, m) => ({ ...ddimStep(expectKind(s, 'ddim'), i, x, m), state: NO_STATE }),
      };
    }
    default: {
      const never: never = chosen;
      throw new Error(`unreachable scheduler ${String(never)}`);
    }
  }
}
