/**
 * diffusers DPMSolverMultistepScheduler with algorithm_type "dpmsolver++" (DPM++ 2M, optionally with
 * Karras sigmas), solver_order 1 or 2, midpoint or heun. The one value a multistep solver carries
 * between steps (the previous x0 prediction) travels in an explicit state, never inside the scheduler.
 */

import { DpmSolverMultistepConfig, parseSchedulerConfig } from './config';
import {
  checkSameLength, checkStepIndex, checkSteps, f32, karrasSigmas, logF32, npArange, npInterpIndex,
  npLinspace, roundHalfEven, sigmaToT, trainTables,
} from './schedule-math';

export interface DpmSolverSchedule {
  readonly kind: 'dpmpp-2m';
  readonly config: DpmSolverMultistepConfig;
  readonly steps: number;
  /** Integer timesteps (diffusers keeps them as int64). */
  readonly timesteps: Float64Array;
  /** float32, length steps + 1 */
  readonly sigmas: Float64Array;
  readonly initNoiseSigma: 1;
}

/** What DPM++ remembers between steps: the previous x0 prediction and how many lower-order steps ran. */
export interface DpmSolverState {
  readonly previousX0: Float32Array | null;
  readonly lowerOrderNums: number;
}

export const DPM_INITIAL_STATE: DpmSolverState = { previousX0: null, lowerOrderNums: 0 };

export function parseDpmSolverConfig(json: unknown, source = 'scheduler_config.json'): DpmSolverMultistepConfig {
  return parseSchedulerConfig(DpmSolverMultistepConfig, json, source, 'DPMSolverMultistepScheduler');
}

/** lambda_t = log(alpha_t) - log(sigma_t) over the training steps (float32), for lambda_min_clipped. */
function lastTimestep(config: DpmSolverMultistepConfig, alphasCumprod: Float64Array): number {
  const T = config.num_train_timesteps;
  if (config.lambda_min_clipped === -Infinity) return T;
  // torch.searchsorted(flip(lambda_t), lambda_min_clipped): count of flipped (ascending) values < clip
  let clippedIdx = 0;
  for (let k = T - 1; k >= 0; k--) {
    const a = alphasCumprod[k]!;
    const lambda = f32(f32(Math.log(f32(Math.sqrt(a)))) - f32(Math.log(f32(Math.sqrt(f32(1 - a))))));
    if (lambda < config.lambda_min_clipped) clippedIdx++;
    else break;
  }
  return T - clippedIdx;
}

function dpmTimesteps(config: DpmSolverMultistepConfig, steps: number, last: number): Float64Array {
  switch (config.timestep_spacing) {
    case 'linspace':
      return npLinspace(0, last - 1, steps + 1).map(roundHalfEven).reverse().subarray(0, steps).slice();
    case 'leading': {
      const ratio = Math.floor(last / (steps + 1));
      const out = new Float64Array(steps);
      for (let k = 0; k < steps; k++) out[k] = (steps - k) * ratio + config.steps_offset;
      return out;
    }
    case 'trailing':
      return npArange(last, 0, -config.num_train_timesteps / steps).map((t) => roundHalfEven(t) - 1);
    default:
      throw new Error(`unreachable timestep_spacing ${config.timestep_spacing}`);
  }
}

/** DPMSolverMultistepScheduler.set_timesteps(steps). */
export function dpmSolverSchedule(config: DpmSolverMultistepConfig, steps: number): DpmSolverSchedule {
  checkSteps(steps, config.num_train_timesteps, 'DPMSolverMultistepScheduler');
  const train = trainTables(config, 'scheduler_config.json');
  let timesteps = dpmTimesteps(config, steps, lastTimestep(config, train.alphasCumprod));
  let sigmas: Float64Array;
  if (config.use_karras_sigmas) {
    // in_sigmas = flip(training sigmas): sigma_min = sigmas[0], sigma_max = sigmas[T - 1]
    const sigmaMin = config.sigma_min ?? train.sigmas[0]!;
    const sigmaMax = config.sigma_max ?? train.sigmas[train.sigmas.length - 1]!;
    sigmas = karrasSigmas(sigmaMin, sigmaMax, steps);
    const logSigmas = logF32(train.sigmas);
    timesteps = sigmas.map((s) => sigmaToT(s, logSigmas));
    if (config.beta_schedule !== 'squaredcos_cap_v2') timesteps = timesteps.map(roundHalfEven);
  } else {
    sigmas = timesteps.map((t) => npInterpIndex(t, train.sigmas));
  }
  const sigmaLast = config.final_sigmas_type === 'zero' ? 0 : train.sigmas[0]!;
  const all = new Float64Array(sigmas.length + 1);
  for (let i = 0; i < sigmas.length; i++) all[i] = f32(sigmas[i]!);
  all[sigmas.length] = f32(sigmaLast);
  // diffusers stores timesteps as int64: fractional ones (squaredcos_cap_v2 + Karras) truncate
  return { kind: 'dpmpp-2m', config, steps: timesteps.length, timesteps: timesteps.map(Math.trunc), sigmas: all, initNoiseSigma: 1 };
}

/** DPM-Solver takes the latents unscaled. */
export function dpmSolverScaleModelInput(s: DpmSolverSchedule, i: number, sample: Float32Array): Float32Array {
  checkStepIndex(i, s.steps, 'DPMSolverMultistepScheduler');
  return sample.slice();
}

/** alpha_t = 1 / sqrt(sigma^2 + 1), sigma_t = sigma * alpha_t, lambda = log(alpha_t) - log(sigma_t), float32. */
function alphaSigmaLambda(sigma: number): { alpha: number; sigma: number; lambda: number } {
  const alpha = f32(1 / f32(Math.sqrt(f32(f32(sigma * sigma) + 1))));
  const sigmaT = f32(sigma * alpha);
  const lambda = f32(f32(Math.log(alpha)) - f32(Math.log(sigmaT)));
  return { alpha, sigma: sigmaT, lambda };
}

/** add_noise at step index i (img2img after set_begin_index(i)): alpha_t · original + sigma_t · noise (float32). */
export function dpmSolverAddNoise(s: DpmSolverSchedule, i: number, original: Float32Array, noise: Float32Array): Float32Array {
  checkStepIndex(i, s.steps, 'DPMSolverMultistepScheduler');
  checkSameLength(original, noise, 'DPMSolverMultistepScheduler');
  const { alpha, sigma } = alphaSigmaLambda(s.sigmas[i]!);
  const out = new Float32Array(original.length);
  for (let k = 0; k < out.length; k++) out[k] = f32(alpha * original[k]!) + f32(sigma * noise[k]!);
  return out;
}

/** convert_model_output for dpmsolver++: the x0 prediction. */
function x0Prediction(config: DpmSolverMultistepConfig, sigma: number, sample: Float32Array, modelOutput: Float32Array): Float32Array {
  const { alpha, sigma: sigmaT } = alphaSigmaLambda(sigma);
  const out = new Float32Array(sample.length);
  switch (config.prediction_type) {
    case 'epsilon':
      for (let k = 0; k < out.length; k++) out[k] = f32(sample[k]! - f32(sigmaT * modelOutput[k]!)) / alpha;
      return out;
    case 'v_prediction':
      for (let k = 0; k < out.length; k++) out[k] = f32(alpha * sample[k]!) - f32(sigmaT * modelOutput[k]!);
      return out;
    case 'sample':
      out.set(modelOutput);
      return out;
    default: {
      const never: never = config.prediction_type;
      throw new Error(`unreachable prediction_type ${String(never)}`);
    }
  }
}

export interface DpmSolverStepResult {
  readonly prevSample: Float32Array;
  readonly state: DpmSolverState;
}

/** DPMSolverMultistepScheduler.step at index i; `state` comes from the previous step (or DPM_INITIAL_STATE). */
export function dpmSolverStep(
  s: DpmSolverSchedule, i: number, sample: Float32Array, modelOutput: Float32Array, state: DpmSolverState,
): DpmSolverStepResult {
  checkStepIndex(i, s.steps, 'DPMSolverMultistepScheduler');
  checkSameLength(sample, modelOutput, 'DPMSolverMultistepScheduler');
  const cfg = s.config;
  const n = s.steps;
  const lowerOrderFinal = i === n - 1 && (cfg.euler_at_final || (cfg.lower_order_final && n < 15) || cfg.final_sigmas_type === 'zero');
  const x0 = x0Prediction(cfg, s.sigmas[i]!, sample, modelOutput);
  const firstOrder = cfg.solver_order === 1 || state.lowerOrderNums < 1 || lowerOrderFinal || state.previousX0 === null;
  const t = alphaSigmaLambda(s.sigmas[i + 1]!);
  const s0 = alphaSigmaLambda(s.sigmas[i]!);
  const h = f32(t.lambda - s0.lambda);
  const ratio = f32(t.sigma / s0.sigma);
  const expm = f32(f32(Math.exp(f32(-h))) - 1); // torch.exp(-h) - 1.0 in float32
  const c0 = f32(t.alpha * expm);
  const prev = new Float32Array(sample.length);
  if (firstOrder) {
    for (let k = 0; k < prev.length; k++) prev[k] = f32(ratio * sample[k]!) - f32(c0 * x0[k]!);
  } else {
    const m1 = state.previousX0!;
    const s1 = alphaSigmaLambda(s.sigmas[i - 1]!);
    const h0 = f32(s0.lambda - s1.lambda);
    const r0 = f32(h0 / h);
    const invR0 = f32(1 / r0);
    if (cfg.solver_type === 'midpoint') {
      const c1 = f32(0.5 * c0);
      for (let k = 0; k < prev.length; k++) {
        const d1 = f32(invR0 * f32(x0[k]! - m1[k]!));
        prev[k] = f32(f32(ratio * sample[k]!) - f32(c0 * x0[k]!)) - f32(c1 * d1);
      }
    } else {
      const c1 = f32(t.alpha * f32(f32(expm / h) + 1));
      for (let k = 0; k < prev.length; k++) {
        const d1 = f32(invR0 * f32(x0[k]! - m1[k]!));
        prev[k] = f32(f32(ratio * sample[k]!) - f32(c0 * x0[k]!)) + f32(c1 * d1);
      }
    }
  }
  const lowerOrderNums = Math.min(state.lowerOrderNums + 1, cfg.solver_order);
  return { prevSample: prev, state: { previousX0: x0, lowerOrderNums } };
}
