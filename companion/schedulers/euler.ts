/**
 * diffusers EulerDiscreteScheduler (SDXL's default): set_timesteps, scale_model_input and step,
 * as pure functions. Tables are float32 like diffusers'; per-element maths is float32 like torch.
 */

import { EulerConfig, parseSchedulerConfig } from './config';
import {
  checkSameLength, checkStepIndex, checkSteps, f32, karrasSigmas, logF32, npArange, npInterpIndex,
  npLinspace, roundHalfEven, sigmaToT, trainTables,
} from './schedule-math';

export interface EulerSchedule {
  readonly kind: 'euler';
  readonly config: EulerConfig;
  readonly steps: number;
  /** What the UNet is given at step i (float32 values, fractional with Karras sigmas). */
  readonly timesteps: Float64Array;
  /** Float32 sigma per step plus the final one (0 for final_sigmas_type "zero"): length steps + 1. */
  readonly sigmas: Float64Array;
  /** The factor diffusers multiplies the initial noise by (scheduler.init_noise_sigma). */
  readonly initNoiseSigma: number;
}

export function parseEulerConfig(json: unknown, source = 'scheduler_config.json'): EulerConfig {
  return parseSchedulerConfig(EulerConfig, json, source, 'EulerDiscreteScheduler');
}

/**
 * Timesteps by `timestep_spacing`, in float64 before the float32 cast (shared with Euler ancestral):
 * linspace: np.linspace(0, T-1, n) (float32) reversed; leading: (arange(n) * (T // n)).round() reversed
 * + steps_offset; trailing: arange(T, 0, -T/n).round() - 1.
 */
export function eulerTimesteps(cfg: { num_train_timesteps: number; timestep_spacing: string; steps_offset: number }, steps: number): Float64Array {
  const T = cfg.num_train_timesteps;
  switch (cfg.timestep_spacing) {
    case 'linspace':
      // np.linspace(..., dtype=np.float32): computed in float64, then cast
      return npLinspace(0, T - 1, steps).map(f32).reverse();
    case 'leading': {
      const ratio = Math.floor(T / steps);
      const out = new Float64Array(steps);
      for (let k = 0; k < steps; k++) out[k] = f32(f32((steps - 1 - k) * ratio) + cfg.steps_offset);
      return out;
    }
    case 'trailing':
      return npArange(T, 0, -T / steps).map((t) => f32(f32(roundHalfEven(t)) - 1));
    default:
      throw new Error(`unreachable timestep_spacing ${cfg.timestep_spacing}`);
  }
}

/** EulerDiscreteScheduler.set_timesteps(steps) and init_noise_sigma. */
export function eulerSchedule(config: EulerConfig, steps: number): EulerSchedule {
  checkSteps(steps, config.num_train_timesteps, 'EulerDiscreteScheduler');
  const train = trainTables(config, 'scheduler_config.json');
  let timesteps: Float64Array = eulerTimesteps(config, steps);
  // np.interp over the float32 training sigmas, in float64
  let sigmas: Float64Array = timesteps.map((t) => npInterpIndex(t, train.sigmas));
  if (config.use_karras_sigmas) {
    const sigmaMin = config.sigma_min ?? sigmas[sigmas.length - 1]!;
    const sigmaMax = config.sigma_max ?? sigmas[0]!;
    sigmas = karrasSigmas(sigmaMin, sigmaMax, steps);
    const logSigmas = logF32(train.sigmas);
    timesteps = sigmas.map((s) => f32(sigmaToT(s, logSigmas)));
  }
  const sigmaLast = config.final_sigmas_type === 'zero' ? 0 : train.sigmas[0]!;
  const allSigmas = new Float64Array(steps + 1);
  for (let i = 0; i < steps; i++) allSigmas[i] = f32(sigmas[i]!);
  allSigmas[steps] = f32(sigmaLast);
  let maxSigma = 0;
  for (const s of allSigmas) maxSigma = Math.max(maxSigma, s);
  const initNoiseSigma = config.timestep_spacing === 'leading' ? f32(Math.sqrt(f32(f32(maxSigma * maxSigma) + 1))) : maxSigma;
  return { kind: 'euler', config, steps, timesteps, sigmas: allSigmas, initNoiseSigma };
}

/**
 * add_noise for the sigma schedules (Euler, Euler ancestral) at step index i, as img2img calls it after
 * set_begin_index(i): original + noise · sigmas[i] (float32).
 */
export function sigmaAddNoise(sigmas: Float64Array, steps: number, i: number, original: Float32Array, noise: Float32Array, scheduler: string): Float32Array {
  checkStepIndex(i, steps, scheduler);
  checkSameLength(original, noise, scheduler);
  const sigma = sigmas[i]!;
  const out = new Float32Array(original.length);
  for (let k = 0; k < out.length; k++) out[k] = original[k]! + f32(noise[k]! * sigma);
  return out;
}

/** sample / sqrt(sigma^2 + 1), the UNet input scaling for step i (float32 like torch). */
export function sigmaScaleModelInput(sigmas: Float64Array, i: number, sample: Float32Array): Float32Array {
  const sigma = sigmas[i]!;
  const denom = f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
  const out = new Float32Array(sample.length);
  for (let k = 0; k < sample.length; k++) out[k] = sample[k]! / denom;
  return out;
}

export function eulerScaleModelInput(s: EulerSchedule, i: number, sample: Float32Array): Float32Array {
  checkStepIndex(i, s.steps, 'EulerDiscreteScheduler');
  return sigmaScaleModelInput(s.sigmas, i, sample);
}

/**
 * x0 from the model output at noise level sigma (float32, diffusers' formulas):
 * epsilon: x - sigma * eps; v_prediction: v * (-sigma / sqrt(sigma^2+1)) + x / (sigma^2+1); sample: the output.
 */
export function predictOriginal(
  predictionType: 'epsilon' | 'v_prediction' | 'sample' | 'original_sample',
  sigma: number, sample: Float32Array, modelOutput: Float32Array,
): Float32Array {
  const out = new Float32Array(sample.length);
  switch (predictionType) {
    case 'epsilon':
      for (let k = 0; k < out.length; k++) out[k] = sample[k]! - f32(sigma * modelOutput[k]!);
      return out;
    case 'v_prediction': {
      const s2p1 = f32(f32(sigma * sigma) + 1);
      const c = f32(-sigma / f32(Math.sqrt(s2p1)));
      for (let k = 0; k < out.length; k++) out[k] = f32(modelOutput[k]! * c) + f32(sample[k]! / s2p1);
      return out;
    }
    case 'sample':
    case 'original_sample':
      out.set(modelOutput);
      return out;
    default: {
      const never: never = predictionType;
      throw new Error(`unreachable prediction_type ${String(never)}`);
    }
  }
}

export interface EulerStepResult {
  readonly prevSample: Float32Array;
  readonly predOriginalSample: Float32Array;
}

/** EulerDiscreteScheduler.step at step index i (s_churn = 0: no noise is added). */
export function eulerStep(s: EulerSchedule, i: number, sample: Float32Array, modelOutput: Float32Array): EulerStepResult {
  checkStepIndex(i, s.steps, 'EulerDiscreteScheduler');
  checkSameLength(sample, modelOutput, 'EulerDiscreteScheduler');
  const sigma = s.sigmas[i]!; // sigma_hat = sigma * (0 + 1)
  const pred = predictOriginal(s.config.prediction_type, sigma, sample, modelOutput);
  const dt = f32(s.sigmas[i + 1]! - sigma);
  const prev = new Float32Array(sample.length);
  for (let k = 0; k < prev.length; k++) {
    const derivative = f32(f32(sample[k]! - pred[k]!) / sigma);
    prev[k] = sample[k]! + f32(derivative * dt);
  }
  return { prevSample: prev, predOriginalSample: pred };
}
