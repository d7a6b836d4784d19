/**
 * diffusers DDIMScheduler, deterministic (eta = 0). Timesteps are integers; step i moves from
 * timesteps[i] to timesteps[i] - T // n, using alphas_cumprod (float32) and the final alpha
 * (1 with set_alpha_to_one, else alphas_cumprod[0]) once that goes below zero.
 */

import { DdimConfig, parseSchedulerConfig } from './config';
import {
  checkSameLength, checkStepIndex, checkSteps, f32, npArange, npLinspace, roundHalfEven, trainTables,
} from './schedule-math';

export interface DdimSchedule {
  readonly kind: 'ddim';
  readonly config: DdimConfig;
  readonly steps: number;
  readonly timesteps: Float64Array;
  readonly initNoiseSigma: 1;
  /** alphas_cumprod (float32 values) indexed by training timestep. */
  readonly alphasCumprod: Float64Array;
  readonly finalAlphaCumprod: number;
}

export function parseDdimConfig(json: unknown, source = 'scheduler_config.json'): DdimConfig {
  return parseSchedulerConfig(DdimConfig, json, source, 'DDIMScheduler');
}

export function ddimSchedule(config: DdimConfig, steps: number): DdimSchedule {
  checkSteps(steps, config.num_train_timesteps, 'DDIMScheduler');
  const T = config.num_train_timesteps;
  const train = trainTables(config, 'scheduler_config.json');
  let timesteps: Float64Array;
  switch (config.timestep_spacing) {
    case 'linspace':
      timesteps = npLinspace(0, T - 1, steps).map(roundHalfEven).reverse();
      break;
    case 'leading': {
      const ratio = Math.floor(T / steps);
      timesteps = new Float64Array(steps);
      for (let k = 0; k < steps; k++) timesteps[k] = (steps - 1 - k) * ratio + config.steps_offset;
      break;
    }
    case 'trailing':
      timesteps = npArange(T, 0, -T / steps).map((t) => roundHalfEven(t) - 1);
      break;
    default:
      throw new Error(`unreachable timestep_spacing ${config.timestep_spacing}`);
  }
  for (const t of timesteps) {
    if (t >= T) throw new RangeError(`DDIMScheduler: timestep ${t} (steps_offset ${config.steps_offset}) is beyond num_train_timesteps ${T}`);
  }
  const finalAlphaCumprod = config.set_alpha_to_one ? 1 : train.alphasCumprod[0]!;
  return { kind: 'ddim', config, steps, timesteps, initNoiseSigma: 1, alphasCumprod: train.alphasCumprod, finalAlphaCumprod };
}

/**
 * add_noise at the timestep of step index i: sqrt(ᾱ_t) · original + sqrt(1 − ᾱ_t) · noise, float32 like torch's
 * `alphas_cumprod[t] ** 0.5`.
 */
export function ddimAddNoise(s: DdimSchedule, i: number, original: Float32Array, noise: Float32Array): Float32Array {
  checkStepIndex(i, s.steps, 'DDIMScheduler');
  checkSameLength(original, noise, 'DDIMScheduler');
  const ac = s.alphasCumprod[s.timesteps[i]!]!;
  const a = f32(Math.sqrt(ac));
  const b = f32(Math.sqrt(f32(1 - ac)));
  const out = new Float32Array(original.length);
  for (let k = 0; k < out.length; k++) out[k] = f32(a * original[k]!) + f32(b * noise[k]!);
  return out;
}

/** DDIM takes the latents unscaled. */
export function ddimScaleModelInput(s: DdimSchedule, i: number, sample: Float32Array): Float32Array {
  checkStepIndex(i, s.steps, 'DDIMScheduler');
  return sample.slice();
}

export interface DdimStepResult {
  readonly prevSample: Float32Array;
  readonly predOriginalSample: Float32Array;
}

/** DDIMScheduler.step(eta=0) at index i (float32 like torch). */
export function ddimStep(s: DdimSchedule, i: number, sample: Float32Array, modelOutput: Float32Array): DdimStepResult {
  checkStepIndex(i, s.steps, 'DDIMScheduler');
  checkSameLength(sample, modelOutput, 'DDIMScheduler');
  const cfg = s.config;
  const t = s.timesteps[i]!;
  const prevT = t - Math.floor(cfg.num_train_timesteps / s.steps);
  const alphaProd = s.alphasCumprod[t]!;
  const alphaProdPrev = prevT >= 0 ? s.alphasCumprod[prevT]! : s.finalAlphaCumprod;
  const betaProd = f32(1 - alphaProd);
  const sqrtAlpha = f32(Math.sqrt(alphaProd));
  const sqrtBeta = f32(Math.sqrt(betaProd));
  const n = sample.length;
  const pred = new Float32Array(n);
  const eps = new Float32Array(n);
  switch (cfg.prediction_type) {
    case 'epsilon':
      for (let k = 0; k < n; k++) pred[k] = f32(sample[k]! - f32(sqrtBeta * modelOutput[k]!)) / sqrtAlpha;
      eps.set(modelOutput);
      break;
    case 'sample':
      pred.set(modelOutput);
      for (let k = 0; k < n; k++) eps[k] = f32(sample[k]! - f32(sqrtAlpha * pred[k]!)) / sqrtBeta;
      break;
    case 'v_prediction':
      for (let k = 0; k < n; k++) {
        pred[k] = f32(sqrtAlpha * sample[k]!) - f32(sqrtBeta * modelOutput[k]!);
        eps[k] = f32(sqrtAlpha * modelOutput[k]!) + f32(sqrtBeta * sample[k]!);
      }
      break;
    default: {
      const never: never = cfg.prediction_type;
      throw new Error(`unreachable prediction_type ${String(never)}`);
    }
  }
  if (cfg.clip_sample) {
    const r = f32(cfg.clip_sample_range);
    for (let k = 0; k < n; k++) pred[k] = Math.min(Math.max(pred[k]!, -r), r);
  }
  // eta = 0: std_dev_t = 0, direction coefficient sqrt(1 - alpha_prev - 0)
  const dirCoef = f32(Math.sqrt(f32(f32(1 - alphaProdPrev) - 0)));
  const sqrtAlphaPrev = f32(Math.sqrt(alphaProdPrev));
  const prev = new Float32Array(n);
  for (let k = 0; k < n; k++) prev[k] = f32(sqrtAlphaPrev * pred[k]!) + f32(dirCoef * eps[k]!);
  return { prevSample: prev, predOriginalSample: pred };
}
