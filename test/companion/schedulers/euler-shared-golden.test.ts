import * as fs from 'node:fs';
import { fixture } from '../../helpers/paths';
import { TorchCpuGenerator, randn } from '../../../companion/rng';
import { eulerSchedule, eulerScaleModelInput, eulerStep, parseEulerConfig } from '../../../companion/schedulers/euler';
import { trainTables } from '../../../companion/schedulers/schedule-math';
import { asFloat32, readSafetensors, type FixtureTensor } from '../rng/safetensors-fixture';
import { REL_TOL, maxElementRelError, maxScaledError } from './golden-compare';

// The reference golden set's tensors/scheduler.* (copied to test/fixtures/golden): SDXL's EulerDiscreteScheduler.

const golden = readSafetensors(fixture('golden', 'scheduler.safetensors'));
const config = parseEulerConfig(JSON.parse(fs.readFileSync(fixture('golden', 'sdxl-scheduler_config.json'), 'utf8')));

function f32(name: string): Float32Array {
  const t: FixtureTensor | undefined = golden.get(name);
  if (!t) throw new Error(`golden tensor ${name} missing`);
  return asFloat32(t);
}

test('training alphas_cumprod and sigmas are bit-identical to torch float32', () => {
  const train = trainTables(config, 'sdxl');
  expect(maxElementRelError(train.alphasCumprod, f32('train.alphas_cumprod'))).toBe(0);
  expect(maxElementRelError(train.sigmas, f32('train.sigmas_full'))).toBe(0);
});

test.each([4, 30, 5])('set_timesteps(%i): timesteps, sigmas, init_noise_sigma', (n) => {
  const s = eulerSchedule(config, n);
  expect(Array.from(s.timesteps)).toEqual(Array.from(f32(`n${n}.timesteps`)));
  expect(maxElementRelError(s.sigmas, f32(`n${n}.sigmas`))).toBeLessThanOrEqual(REL_TOL);
  expect(maxElementRelError([s.initNoiseSigma], f32(`n${n}.init_noise_sigma`))).toBeLessThanOrEqual(REL_TOL);
});

test('the documented 4-step values', () => {
  const s = eulerSchedule(config, 4);
  expect(Array.from(s.timesteps)).toEqual([751, 501, 251, 1]);
  expect(Array.from(s.sigmas).map((x) => Number(x.toFixed(4)))).toEqual([4.1167, 1.6237, 0.6984, 0.0413, 0]);
  expect(Number(s.initNoiseSigma.toFixed(4))).toBe(4.2364);
});

test('two explicit Euler steps (4-step schedule): scale_model_input, prev_sample, pred_original_sample', () => {
  const s = eulerSchedule(config, 4);
  const sample0 = f32('step.sample0');
  // the golden's inputs are torch.randn draws: our generator must give the same ones
  const noise = randn(new TorchCpuGenerator(9001), [1, 4, 8, 8]).map((x) => Math.fround(x * s.initNoiseSigma));
  expect(maxScaledError(noise, sample0)).toBe(0);
  expect(maxScaledError(randn(new TorchCpuGenerator(9100), [1, 4, 8, 8]), f32('step0.model_output'))).toBe(0);
  let sample = sample0;
  for (const i of [0, 1]) {
    expect(s.timesteps[i]).toBe(f32(`step${i}.timestep`)[0]);
    expect(maxScaledError(eulerScaleModelInput(s, i, sample), f32(`step${i}.scaled_model_input`))).toBeLessThanOrEqual(REL_TOL);
    const out = eulerStep(s, i, sample, f32(`step${i}.model_output`));
    expect(maxScaledError(out.prevSample, f32(`step${i}.prev_sample`))).toBeLessThanOrEqual(REL_TOL);
    expect(maxScaledError(out.predOriginalSample, f32(`step${i}.pred_original_sample`))).toBeLessThanOrEqual(REL_TOL);
    sample = f32(`step${i}.prev_sample`);
  }
});
