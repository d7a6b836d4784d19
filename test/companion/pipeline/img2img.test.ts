/**
 * img2img parity with diffusers' StableDiffusionXLImg2ImgPipeline on the tiny SDXL set (fp32, CPU; golden `img2img`,
 * tools/golden/img2img.py): seeded generators, so the VAE's latent_dist.sample noise, the add_noise noise and the
 * ancestral noise all come from torch's CPU generator, for every scheduler with its start step, one step only,
 * denoise 1, and with the IP-Adapter. Then the StyleStudio switches on an init image: AdaIN, SCFG and the teacher,
 * whose rows start where the student starts.
 */
import type { ModelSet } from '../../../companion/runtime/model-set';
import { type PipelineRequest, StyleStudioPipeline } from '../../../companion/pipeline/stylestudio-pipeline';
import type { RgbaImage } from '../../../companion/image/rgba';
import { EngineError } from '../../../companion/runtime/errors';
import { Golden, relL2 } from '../models/golden';
import { GOLDEN_REQUEST, goldenImage, openGoldenModelSet } from '../../helpers/golden-pipeline';

interface GoldenRun { scheduler: string; seed: number; steps: number; strength: number; ip_adapter_scale: number | null }
const SCHEDULER_OF: Record<string, string> = {
  EulerDiscreteScheduler: 'euler', EulerAncestralDiscreteScheduler: 'euler-a', DDIMScheduler: 'ddim',
};

let set: ModelSet;
let pipe: StyleStudioPipeline;
let init: RgbaImage;
let style: RgbaImage;
let negStyle: RgbaImage;
const gold = new Golden('img2img');
const runs = (gold.sidecar.inputs as unknown as { runs: Record<string, GoldenRun> }).runs;

beforeAll(async () => {
  set = await openGoldenModelSet();
  pipe = new StyleStudioPipeline(set);
  [init, style, negStyle] = await Promise.all(['init.png', 'style.png', 'neg_style.png'].map(goldenImage)) as [RgbaImage, RgbaImage, RgbaImage];
});

afterAll(async () => {
  await set.close();
});

const base: Omit<PipelineRequest, 'steps' | 'seed'> = GOLDEN_REQUEST;

function requestFor(name: string): PipelineRequest {
  const r = runs[name]!;
  const scheduler = r.scheduler === 'DPMSolverMultistepScheduler' ? 'dpmpp-2m-karras' : SCHEDULER_OF[r.scheduler]!;
  return {
    ...base, init, denoise: r.strength, steps: r.steps, seed: r.seed, scheduler,
    ...(r.ip_adapter_scale !== null ? { style, scale: r.ip_adapter_scale, styleLayers: { kind: 'all' } as const } : {}),
  };
}

describe('img2img vs diffusers StableDiffusionXLImg2ImgPipeline (seeded, guidance 5)', () => {
  // Measured: euler 4.7e-5, euler-a 4.0e-5, dpmpp-2m-karras 9.4e-5, ddim 1.8e-4, one step 5.4e-5, denoise 1 1.4e-5,
  // ip 8.2e-6. DDIM's drift is the UNet's float differences amplified by its x0 step, as in the text-to-image seeded
  // golden (3.2e-4 there, parity.test.ts); a wrong start step, noise or add_noise would be off by O(1e-2) or more.
  test.each([
    ['euler', 3, 1e-4], ['euler-a', 3, 1e-4], ['dpmpp-2m-karras', 3, 1e-4], ['ddim', 3, 3e-4], ['euler-one-step', 1, 1e-4],
    ['euler-full', 4, 1e-4], ['ip', 3, 1e-4],
  ] as const)('%s: final latents, %d steps run, within %s relative L2', async (name, runSteps, tol) => {
    const request = requestFor(name);
    const steps: number[] = [];
    const r = await pipe.generate(request, { decode: false, onStep: (p) => { steps.push(p.step); expect(p.steps).toBe(runSteps); } });
    const e = relL2(r.variations[0]!.latents.data, gold.get(`${name}.out.latent`).data);
    console.log(`img2img ${name}: latents rel L2 ${e.toExponential(2)}`);
    expect(e).toBeLessThan(tol);
    expect(steps).toEqual(Array.from({ length: runSteps }, (_, k) => k + 1));
    expect(r.unetRowEvaluations).toBe(2 * runSteps);
  });

  // The issue asks ≤ 1e-4 of diffusers; DDIM is 1.8e-4. diffusers' own fp32 result is 8.1e-5 from the float64 answer
  // (same noise) on this case, so two correct fp32 implementations can differ by about twice that. What must hold is
  // that ours is as close to the float64 answer as diffusers' fp32 is. Measured, ours vs float64 (diffusers fp32 vs
  // float64): euler 5.1e-5 (2.3e-5), dpmpp-2m-karras 8.4e-5 (4.5e-5), ddim 1.03e-4 (8.1e-5).
  test.each([['euler', 3], ['dpmpp-2m-karras', 3], ['ddim', 1.5]] as const)(
    '%s: as close to diffusers in float64 as diffusers in float32 is (within %s×)', async (name, factor) => {
      const r = await pipe.generate(requestFor(name), { decode: false });
      const exact = gold.get(`${name}.exact.latent`).data;
      const ours = relL2(r.variations[0]!.latents.data, exact);
      const theirs = relL2(gold.get(`${name}.out.latent`).data, exact);
      console.log(`img2img ${name} vs float64: ours ${ours.toExponential(2)}, diffusers fp32 ${theirs.toExponential(2)}`);
      expect(theirs).toBeGreaterThan(1e-6); // the float64 run is a different computation, not a copy of the fp32 one
      expect(ours).toBeLessThan(factor * theirs);
    });

  test('the init image matters: another image, same seed, gives other latents', async () => {
    const request = requestFor('euler');
    const other = await pipe.generate({ ...request, init: style }, { decode: false });
    expect(relL2(other.variations[0]!.latents.data, gold.get('euler.out.latent').data)).toBeGreaterThan(1e-2);
  });

  test('explicit latents with an init image are refused before anything runs', () => {
    const request = { ...requestFor('euler'), latents: { shape: [1, 4, 8, 8], data: new Float32Array(256) } };
    expect(() => pipe.plan(request)).toThrow(EngineError);
    expect(() => pipe.plan(request)).toThrow(/exclude each other/);
  });
});

describe('StyleStudio on an init image', () => {
  const styled = (extra: Partial<PipelineRequest>): PipelineRequest => ({
    ...base, init, denoise: 0.6, steps: 5, seed: 31, style, crossModalAdain: true, ...extra,
  });

  test('AdaIN, SCFG (negative style image) and the teacher all change the result; each is deterministic', async () => {
    const plain = await pipe.generate(styled({ crossModalAdain: false }), { decode: false });
    const adain = await pipe.generate(styled({}), { decode: false });
    const scfg = await pipe.generate(styled({ negativeStyle: negStyle }), { decode: false });
    const teacher = await pipe.generate(styled({ teacherSteps: 2 }), { decode: false });
    const again = await pipe.generate(styled({ teacherSteps: 2 }), { decode: false });
    const lat = (r: typeof plain) => r.variations[0]!.latents.data;
    expect(relL2(lat(adain), lat(plain))).toBeGreaterThan(1e-3);
    expect(relL2(lat(scfg), lat(adain))).toBeGreaterThan(1e-3);
    expect(relL2(lat(teacher), lat(adain))).toBeGreaterThan(1e-4);
    expect(Array.from(lat(again))).toEqual(Array.from(lat(teacher)));
    // 5 steps at denoise 0.6 run 3 (schedule indices 2..4); the teacher's 2 steps count from the first that runs —
    // counted from index 0 they would never run and the result would equal the teacher-free one: 4 + 4 + 2 rows
    expect(teacher.unetRowEvaluations).toBe(10);
    expect(adain.unetRowEvaluations).toBe(6);
  });
});
