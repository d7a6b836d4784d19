import * as fs from 'node:fs';
import { fixture } from '../../helpers/paths';
import { TorchCpuGenerator, randn } from '../../../companion/rng';
import { SchedulerConfigError, schedulerFromConfig, SCHEDULER_NAMES } from '../../../companion/schedulers';

const sdxl = JSON.parse(fs.readFileSync(fixture('golden', 'sdxl-scheduler_config.json'), 'utf8')) as Record<string, unknown>;

describe('schedulerFromConfig', () => {
  test('maps _class_name, and our names reuse the config like from_config', () => {
    expect(schedulerFromConfig(sdxl).name).toBe('euler');
    expect(schedulerFromConfig({ ...sdxl, _class_name: 'EulerAncestralDiscreteScheduler' }).name).toBe('euler-a');
    expect(schedulerFromConfig({ ...sdxl, _class_name: 'DPMSolverMultistepScheduler' }).name).toBe('dpmpp-2m');
    expect(schedulerFromConfig({ ...sdxl, _class_name: 'DPMSolverMultistepScheduler', use_karras_sigmas: true }).name).toBe('dpmpp-2m-karras');
    expect(schedulerFromConfig({ ...sdxl, _class_name: 'DDIMScheduler' }).name).toBe('ddim');
    for (const name of SCHEDULER_NAMES) expect(schedulerFromConfig(sdxl, name).name).toBe(name);
  });

  test('dpmpp-2m-karras and dpmpp-2m differ only by the Karras sigmas', () => {
    const plain = schedulerFromConfig(sdxl, 'dpmpp-2m').schedule(10);
    const karras = schedulerFromConfig(sdxl, 'dpmpp-2m-karras').schedule(10);
    expect(Array.from(plain.timesteps)).not.toEqual(Array.from(karras.timesteps));
    expect(plain.initNoiseSigma).toBe(1);
  });

  test('unsupported classes, names and values fail with the key, the value and what is accepted', () => {
    expect(() => schedulerFromConfig({ ...sdxl, _class_name: 'LMSDiscreteScheduler' })).toThrow(
      /"_class_name" = "LMSDiscreteScheduler" is not supported \(supported: EulerDiscreteScheduler/,
    );
    expect(() => schedulerFromConfig(sdxl, 'heun')).toThrow(/unknown scheduler "heun"/);
    expect(() => schedulerFromConfig({ ...sdxl, timestep_spacing: 'middle' })).toThrow(SchedulerConfigError);
    expect(() => schedulerFromConfig({ ...sdxl, timestep_spacing: 'middle' })).toThrow(/"timestep_spacing" = "middle".*linspace/);
    expect(() => schedulerFromConfig({ ...sdxl, interpolation_type: 'log_linear' })).toThrow(/"interpolation_type" = "log_linear"/);
    expect(() => schedulerFromConfig({ ...sdxl, rescale_betas_zero_snr: true })).toThrow(/"rescale_betas_zero_snr" = true/);
    expect(() => schedulerFromConfig({ ...sdxl, beta_schedule: 'sigmoid' }, 'ddim')).toThrow(/DDIMScheduler.*"beta_schedule" = "sigmoid"/);
    expect(() => schedulerFromConfig({ ...sdxl, algorithm_type: 'sde-dpmsolver++' }, 'dpmpp-2m')).toThrow(/"algorithm_type"/);
    expect(() => schedulerFromConfig({ ...sdxl, solver_order: 3 }, 'dpmpp-2m')).toThrow(/"solver_order" = 3/);
    expect(() => schedulerFromConfig([1, 2])).toThrow(/expected a JSON object/);
    expect(() => schedulerFromConfig({ ...sdxl, trained_betas: [0.1, 0.2] }).schedule(4)).toThrow(/"trained_betas" has 2 values/);
  });

  test('keys another class owns are ignored, as diffusers does (SDXL config carries DDIM keys)', () => {
    // interpolation_type belongs to Euler only: an odd value must not break Euler ancestral
    expect(schedulerFromConfig({ ...sdxl, interpolation_type: 'log_linear' }, 'euler-a').schedule(4).timesteps.length).toBe(4);
  });

  test('bad step counts and indices are refused', () => {
    const s = schedulerFromConfig(sdxl);
    expect(() => s.schedule(0)).toThrow(/steps must be an integer in \[1, 1000\]/);
    expect(() => s.schedule(2.5)).toThrow(/steps must be an integer/);
    const schedule = s.schedule(4);
    const x = new Float32Array(16);
    expect(() => s.step(schedule, 4, x, x, s.initialState())).toThrow(/step index 4 is outside \[0, 3\]/);
    expect(() => s.step(schedule, 0, x, new Float32Array(8), s.initialState())).toThrow(/sample has 16 values, model output 8/);
    const ddim = schedulerFromConfig(sdxl, 'ddim');
    expect(() => ddim.step(schedule, 0, x, x, ddim.initialState())).toThrow(/a euler schedule was passed to the ddim scheduler/);
    const ea = schedulerFromConfig(sdxl, 'euler-a');
    expect(() => ea.step(ea.schedule(4), 0, x, x, ea.initialState())).toThrow(/needs a generator or explicit noise/);
  });
});

describe('purity', () => {
  const sample = randn(new TorchCpuGenerator(1), [64]);
  const modelOutput = randn(new TorchCpuGenerator(2), [64]);

  test.each(SCHEDULER_NAMES.map((n) => [n]))('%s: same inputs give the same output and inputs are not modified', (name) => {
    const s = schedulerFromConfig(sdxl, name);
    const schedule = s.schedule(10);
    const before = [sample.slice(), modelOutput.slice(), schedule.timesteps.slice()];
    const a = s.step(schedule, 3, sample, modelOutput, s.initialState(), { generator: new TorchCpuGenerator(5) });
    const b = s.step(schedule, 3, sample, modelOutput, s.initialState(), { generator: new TorchCpuGenerator(5) });
    expect(Array.from(a.prevSample)).toEqual(Array.from(b.prevSample));
    expect([sample, modelOutput, schedule.timesteps].map((x) => Array.from(x))).toEqual(before.map((x) => Array.from(x)));
  });

  test('euler-a: explicit noise equals the generator draw; the generator advances one randn per step', () => {
    const s = schedulerFromConfig(sdxl, 'euler-a');
    const schedule = s.schedule(10);
    const gen = new TorchCpuGenerator(9);
    const fromGen = s.step(schedule, 2, sample, modelOutput, s.initialState(), { generator: gen });
    const noise = randn(new TorchCpuGenerator(9), [64]);
    const fromNoise = s.step(schedule, 2, sample, modelOutput, s.initialState(), { noise });
    expect(Array.from(fromGen.prevSample)).toEqual(Array.from(fromNoise.prevSample));
    const reference = new TorchCpuGenerator(9);
    randn(reference, [64]);
    expect(Array.from(randn(gen, [3]))).toEqual(Array.from(randn(reference, [3])));
  });

  test('dpmpp-2m: the second step depends on the state handed over, not on hidden memory', () => {
    const s = schedulerFromConfig(sdxl, 'dpmpp-2m');
    const schedule = s.schedule(10);
    const first = s.step(schedule, 0, sample, modelOutput, s.initialState());
    const second = s.step(schedule, 1, first.prevSample, modelOutput, first.state);
    const again = s.step(schedule, 1, first.prevSample, modelOutput, first.state);
    const fresh = s.step(schedule, 1, first.prevSample, modelOutput, s.initialState());
    expect(Array.from(second.prevSample)).toEqual(Array.from(again.prevSample));
    expect(Array.from(second.prevSample)).not.toEqual(Array.from(fresh.prevSample)); // second order vs first order
  });
});
