/**
 * The arithmetic diffusers' schedulers share, reproduced with diffusers' dtypes: the training tables
 * are torch float32 (linspace, cumprod accumulating in double, elementwise ops rounded to float32),
 * the inference tables numpy float64 then cast to float32. Math.fround marks every float32 rounding.
 */

import { fmaf } from '../rng/float32';

export const f32 = Math.fround;

export interface BetaConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
  trained_betas: number[] | null;
}

/**
 * torch.linspace(start, end, steps, dtype=float32) (ATen RangeFactoriesKernel linspace_kernel):
 * step = (end - start) / (steps - 1) in float; the first half counts up from start, the second half
 * down from end; `start + step * idx` is one FMA in PyTorch's AVX2 (GCC, -mfma) build.
 */
export function torchLinspaceF32(start: number, end: number, steps: number): Float64Array {
  const out = new Float64Array(steps);
  if (steps === 1) {
    out[0] = f32(start);
    return out;
  }
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  for (let idx = 0; idx < steps; idx++) {
    out[idx] = idx < halfway ? fmaf(step, idx, s) : fmaf(-step, steps - idx - 1, e);
  }
  return out;
}

/** diffusers' betas_for_alpha_bar (cosine), computed in double, stored as float32. */
function cosineBetas(n: number, maxBeta = 0.999): Float64Array {
  const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = f32(Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), maxBeta));
  return out;
}

/** self.betas (float32 values) for a scheduler config. */
export function trainBetas(cfg: BetaConfig, source: string): Float64Array {
  const n = cfg.num_train_timesteps;
  if (cfg.trained_betas !== null) {
    if (cfg.trained_betas.length !== n) {
      throw new RangeError(`${source}: "trained_betas" has ${cfg.trained_betas.length} values, "num_train_timesteps" is ${n}`);
    }
    return Float64Array.from(cfg.trained_betas, f32);
  }
  switch (cfg.beta_schedule) {
    case 'linear':
      return torchLinspaceF32(cfg.beta_start, cfg.beta_end, n);
    case 'scaled_linear':
      return torchLinspaceF32(Math.sqrt(cfg.beta_start), Math.sqrt(cfg.beta_end), n).map((b) => f32(b * b));
    case 'squaredcos_cap_v2':
      return cosineBetas(n);
    default: {
      const never: never = cfg.beta_schedule;
      throw new Error(`unreachable beta_schedule ${String(never)}`);
    }
  }
}

/** alphas_cumprod = torch.cumprod(1 - betas): float32 inputs, a double running product, float32 outputs. */
export function alphasCumprod(betas: Float64Array): Float64Array {
  const out = new Float64Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc *= f32(1 - betas[i]!);
    out[i] = f32(acc);
  }
  return out;
}

/** ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5 in float32, index = training timestep. */
export function trainSigmas(alphasCumprodF32: Float64Array): Float64Array {
  return alphasCumprodF32.map((a) => f32(Math.sqrt(f32(f32(1 - a) / a))));
}

/** numpy.round: half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** numpy.linspace(start, stop, num) in float64 (endpoint included): i * step + start, last = stop. */
export function npLinspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  if (num === 1) {
    out[0] = start;
    return out;
  }
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

/**
 * numpy.arange(start, stop, step) for floats: length ceil((stop - start) / step), then
 * numpy's fill: a[0] = start, delta = (start + step) - start, a[i] = start + i * delta.
 */
export function npArange(start: number, stop: number, step: number): Float64Array {
  const len = Math.max(0, Math.ceil((stop - start) / step));
  const out = new Float64Array(len);
  if (len === 0) return out;
  out[0] = start;
  if (len > 1) out[1] = start + step;
  const delta = start + step - start;
  for (let i = 2; i < len; i++) out[i] = start + i * delta;
  return out;
}

/** numpy.interp(x, arange(len(fp)), fp) for x inside [0, len - 1]. */
export function npInterpIndex(x: number, fp: Float64Array): number {
  const last = fp.length - 1;
  if (x >= last) return fp[last]!;
  if (x <= 0) return fp[0]!;
  const j = Math.floor(x);
  if (x === j) return fp[j]!;
  const slope = fp[j + 1]! - fp[j]!; // xp spacing is 1
  return slope * (x - j) + fp[j]!;
}

/** np.log of a float32 array: float32 results. */
export function logF32(values: Float64Array): Float64Array {
  return values.map((v) => f32(Math.log(v)));
}

/**
 * diffusers' _sigma_to_t: the fractional training timestep whose log-sigma is `sigma`'s,
 * interpolating linearly in log-sigma between neighbouring training steps (float64 maths on the
 * float32 log-sigma table).
 */
export function sigmaToT(sigma: number, logSigmas: Float64Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  // low_idx = last index with log_sigmas[k] <= log_sigma (0 if none), at most len - 2
  let count = 0;
  for (let k = 0; k < logSigmas.length; k++) if (logSigma - logSigmas[k]! >= 0) count++;
  const lowIdx = Math.min(Math.max(count - 1, 0), logSigmas.length - 2);
  const low = logSigmas[lowIdx]!;
  const high = logSigmas[lowIdx + 1]!;
  let w = (low - logSigma) / (low - high);
  w = Math.min(Math.max(w, 0), 1);
  return (1 - w) * lowIdx + w * (lowIdx + 1);
}

/** Karras et al. (2022) sigmas, rho = 7, from sigmaMax down to sigmaMin (float64). */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, steps: number): Float64Array {
  const rho = 7.0;
  const ramp = npLinspace(0, 1, steps);
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  return ramp.map((r) => (maxInvRho + r * (minInvRho - maxInvRho)) ** rho);
}

/** Training tables shared by every scheduler built from one config. */
export interface TrainTables {
  readonly alphasCumprod: Float64Array; // float32 values
  readonly sigmas: Float64Array; // float32 values, index = training timestep
}

export function trainTables(cfg: BetaConfig, source: string): TrainTables {
  const ac = alphasCumprod(trainBetas(cfg, source));
  return { alphasCumprod: ac, sigmas: trainSigmas(ac) };
}

/** Inference step count must be a positive integer no larger than the training steps. */
export function checkSteps(steps: number, numTrainTimesteps: number, scheduler: string): void {
  if (!Number.isSafeInteger(steps) || steps < 1 || steps > numTrainTimesteps) {
    throw new RangeError(`${scheduler}: steps must be an integer in [1, ${numTrainTimesteps}], got ${steps}`);
  }
}

/** Step index must address an existing step of the schedule. */
export function checkStepIndex(i: number, steps: number, scheduler: string): void {
  if (!Number.isSafeInteger(i) || i < 0 || i >= steps) {
    throw new RangeError(`${scheduler}: step index ${i} is outside [0, ${steps - 1}]`);
  }
}

/** Sample and model output must be equally long. */
export function checkSameLength(sample: Float32Array, modelOutput: Float32Array, scheduler: string): void {
  if (sample.length !== modelOutput.length) {
    throw new RangeError(`${scheduler}: sample has ${sample.length} values, model output ${modelOutput.length}`);
  }
}
