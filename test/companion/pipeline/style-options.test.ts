/**
 * The style options reach the networks as documented: --style-resize square512 is the official CLI's cv2 squash
 * followed by the same CLIP preprocessing; --drop presets are SCFG with the derived negative image; the worker-thread
 * preparation gives the same pixels as the caller's thread.
 */
import * as fs from 'node:fs';
import { ModelSet } from '../../../companion/runtime/model-set';
import { type PipelineRequest, prepareStylePixels, StyleStudioPipeline } from '../../../companion/pipeline/stylestudio-pipeline';
import { prepareStylePixelsInWorker } from '../../../companion/pipeline/style-prep';
import { addOpaqueAlpha, decodeImage, dropAlpha, type RgbaImage } from '../../../companion/image/rgba';
import { squashToSquare } from '../../../companion/image/clip-preprocess';
import { negativeStyleFromPreset } from '../../../companion/image/negative-presets';
import { fixture } from '../../helpers/paths';

const SD = (...p: string[]) => fixture('ip-adapter-tiny', 'sdxl_models', ...p);
let set: ModelSet;
let pipe: StyleStudioPipeline;
let style: RgbaImage;

beforeAll(async () => {
  set = await ModelSet.open({ model: fixture('sdxl-tiny'), adapter: SD('ip-adapter_sdxl.safetensors'), imageEncoder: SD('image_encoder') }, { intraOpThreads: 1 });
  pipe = new StyleStudioPipeline(set);
  style = await decodeImage(fs.readFileSync(fixture('golden', 'style.png'))); // 320×256: not square
});
afterAll(async () => {
  await set.close();
});

const request = (extra: Partial<PipelineRequest>): PipelineRequest => ({
  prompt: 'A red apple', steps: 2, guidance: 5, seed: 3, variations: 1, width: 64, height: 64, crossModalAdain: true,
  adainStrength: 1, scale: 1, styleLayers: { kind: 'adapter-default' }, styleResize: 'none', teacherSteps: null, style, ...extra,
});

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

test('square512 = the cv2 512² squash, then the default preprocessing; it differs from none for a non-square style', async () => {
  const squashed = addOpaqueAlpha(squashToSquare(dropAlpha(style)));
  const a = await pipe.generate(request({ styleResize: 'square512' }), { decode: false });
  const b = await pipe.generate(request({ style: squashed }), { decode: false });
  const c = await pipe.generate(request({}), { decode: false });
  expect(same(a.variations[0]!.latents.data, b.variations[0]!.latents.data)).toBe(true);
  expect(same(a.variations[0]!.latents.data, c.variations[0]!.latents.data)).toBe(false);
});

test.each(['colour', 'texture'] as const)('--drop %s = SCFG with the derived negative style image', async (preset) => {
  const a = await pipe.generate(request({ drop: preset }), { decode: false });
  const b = await pipe.generate(request({ negativeStyle: negativeStyleFromPreset(style, preset) }), { decode: false });
  const none = await pipe.generate(request({}), { decode: false });
  expect(same(a.variations[0]!.latents.data, b.variations[0]!.latents.data)).toBe(true);
  expect(same(a.variations[0]!.latents.data, none.variations[0]!.latents.data)).toBe(false);
});

test('style preparation in a worker thread gives the same pixels as on the caller\'s thread', async () => {
  const here = prepareStylePixels(style, 'colour', 224, 'square512');
  const there = await prepareStylePixelsInWorker(style, 'colour', 224, 'square512');
  expect(same(there.style, here.style)).toBe(true);
  expect(same(there.negative!, here.negative!)).toBe(true);
  await expect(prepareStylePixelsInWorker({ width: 2, height: 2, data: new Uint8Array(3) }, null, 224, 'none')).rejects.toThrow(/style image/);
});

test('a CSGO checkpoint (Resampler over penultimate features, conv_in override) runs end to end on its up_blocks layers', async () => {
  const csgo = await ModelSet.open({ model: fixture('sdxl-tiny'), adapter: fixture('ip-adapter-tiny', 'csgo', 'csgo_tiny.bin'), imageEncoder: SD('image_encoder') }, { intraOpThreads: 1 });
  try {
    expect(csgo.adapter!.kind).toBe('csgo');
    expect(csgo.defaultStyleSelection()).toEqual({ preset: 'csgo' });
    const r = await new StyleStudioPipeline(csgo).generate(request({ steps: 3, teacherSteps: 1, negativeStyle: style }));
    expect(r.unetRowEvaluations).toBe(4 + 2 * 2);
    expect(r.variations[0]!.latents.data.every(Number.isFinite)).toBe(true);
    expect(r.variations[0]!.image!.width).toBe(64);
    const h94 = await pipe.generate(request({ steps: 3, teacherSteps: 1, negativeStyle: style }), { decode: false });
    expect(same(h94.variations[0]!.latents.data, r.variations[0]!.latents.data)).toBe(false);
  } finally {
    await csgo.close();
  }
});

describe('every scheduler runs the teacher and the student on their own states', () => {
  test.each(['euler', 'euler-a', 'dpmpp-2m', 'dpmpp-2m-karras', 'ddim'])('%s: finite, seed-determined, dropping the teacher rows changes nothing', async (name) => {
    const r = request({ steps: 4, teacherSteps: 2, scheduler: name });
    const a = await pipe.generate(r, { decode: false });
    const b = await pipe.generate(r, { decode: false });
    const kept = await pipe.generate({ ...r, keepTeacherRows: true }, { decode: false });
    expect(a.scheduler).toBe(name);
    expect(a.variations[0]!.latents.data.every(Number.isFinite)).toBe(true);
    expect(same(a.variations[0]!.latents.data, b.variations[0]!.latents.data)).toBe(true);
    expect(same(a.variations[0]!.latents.data, kept.variations[0]!.latents.data)).toBe(true);
  });
});
