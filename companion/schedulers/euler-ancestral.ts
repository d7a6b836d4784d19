/**
 * diffusers EulerAncestralDiscreteScheduler: Euler to sigma_down, then fresh noise scaled by sigma_up.
 * The noise is torch.randn(model_output.shape, generator=g) exactly as diffusers' randn_tensor draws it
 * on the CPU, from the caller's generator (which this advances), or given explicitly.
 */

import { EulerAncestralConfig, parseSchedulerConfig } from './config';
import { eulerTimesteps, predictOriginal, sigmaScaleModelInput } from './euler';
import { checkSameLength, checkStepIndex, checkSteps, f32, npInterpIndex, trainTables } from './schedule-math';
import { randn } from '../rng/randn';
import type { TorchCpuGenerator } from '../rng/torch-generator';

export interface EulerAncestralSchedule {
  readonly kind: 'euler-ancestral';
  readonly config: EulerAncestralConfig;
  readonly steps: number;
  readonly timesteps: Float64Array;
  /** length steps + 1, last 0 */
  readonly sigmas: Float64Array;
  readonly initNoiseSigma: number;
}

export function parseEulerAncestralConfig(json: unknown, source = 'scheduler_config.json'): EulerAncestralConfig {
  return parseSchedulerConfig(EulerAncestralConfig, json, source, 'EulerAncestralDiscreteScheduler');
}

export function eulerAncestralSchedule(config: EulerAncestralConfig, steps: number): EulerAncestralSchedule {
  checkSteps(steps, config.num_train_timesteps, 'EulerAncestralDiscreteScheduler');
  const train = trainTables(config, 'scheduler_config.json');
  const timesteps = eulerTimesteps(config, steps);
  const sigmas = new Float64Array(steps + 1);
  for (let i = 0; i < steps; i++) sigmas[i] = f32(npInterpIndex(timesteps[i]!, train.sigmas));
  sigmas[steps] = 0;
  let maxSigma = 0;
  for (const s of sigmas) maxSigma = Math.max(maxSigma, s);
  const initNoiseSigma = config.timestep_spacing === 'leading' ? f32(Math.sqrt(f32(f32(maxSigma * maxSigma) + 1))) : maxSigma;
  return { kind: 'euler-ancestral', config, steps, timesteps, sigmas, initNoiseSigma };
}

export function eulerAncestralScaleModelInput(s: EulerAncestralSchedule, i: number, sample: Float32Array): Float32Array {
  checkStepIndex(i, s.steps, 'EulerAncestralDiscreteScheduler');
  return sigmaScaleModelInput(s.sigmas, i, sample);
}

/** Where the step's noise comes from: a generator (advanced by this call) or the noise itself. */
export type AncestralNoise = { readonly generator: TorchCpuGenerator } | { readonly noise: Float32Array };

export interface EulerAncestralStepResult {
  readonly prevSample: Float32Array;
  readonly predOriginalSample: Float32Array;
}

/** sigma_up and sigma_down of step i (float32, diffusers' expression order). */
export function ancestralSigmas(s: EulerAncestralSchedule, i: number): { sigmaUp: number; sigmaDown: number } {
  const from = s.sigmas[i]!;
  const to = s.sigmas[i + 1]!;
  const to2 = f32(to * to);
  const from2 = f32(from * from);
  const sigmaUp = f32(Math.sqrt(f32(f32(to2 * f32(from2 - to2)) / from2)));
  const sigmaDown = f32(Math.sqrt(f32(to2 - f32(sigmaUp * sigmaUp))));
  return { sigmaUp, sigmaDown };
}

export function eulerAncestralStep(
  s: EulerAncestralSchedule, i: number, sample: Float32Array, modelOutput: Float32Array, source: AncestralNoise,
): EulerAncestralStepResult {
  checkStepIndex(i, s.steps, 'EulerAncestralDiscreteScheduler');
  checkSameLength(sample, modelOutput, 'EulerAncestralDiscreteScheduler');
  const sigma = s.sigmas[i]!;
  const pred = predictOriginal(s.config.prediction_type, sigma, sample, modelOutput);
  const { sigmaUp, sigmaDown } = ancestralSigmas(s, i);
  const dt = f32(sigmaDown - sigma);
  const noise = 'noise' in source ? source.noise : randn(source.generator, [sample.length]);
  if (noise.length !== sample.length) {
    throw new RangeError(`EulerAncestralDiscreteScheduler: noise has ${noise.length} values, sample ${sample.length}`);
  }
  const prev = new Float32Array(sample.length);
  for (let k = 0; k < prev.length; k++) {
    const derivative = f32(f32(sample[k]! - pred[k]!) / sigma);
    const moved = f32(sample[k]! + f32(derivative * dt));
    prev[k] = moved + f32(noise[k]! * sigmaUp);
  }
  return { prevSample: prev, predOriginalSample: pred };
}
