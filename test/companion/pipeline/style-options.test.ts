/**
 * The style options reach the networks as documented: --style-resize square512 is the official CLI's cv2 squash
 * followed by the same CLIP preprocessing; --drop presets are SCFG with the derived negative image; the worker-thread
 * preparation gives the same pixels as the caller's thread.
 */
import * as fs from 'node:fs';
import { ModelSet } from '../../../companion/runtime/model-set';
import { type PipelineRequest, prepareStylePixels, StyleStudioPipeline } from '../../../companion/pipeline/stylestudio-pipeline';
import { prepareStylePixelsInWorker, reduceStyleImagesInWorker } from '../../../companion/pipeline/style-prep';
import { reduceStyleImages } from '../../../companion/pipeline/style-pixels';
import { addOpaqueAlpha, decodeImage, dropAlpha, type RgbaImage } from '../../../companion/image/rgba';
import { squashToSquare } from '../../../companion/image/clip-preprocess';
import { negativeStyleFromPreset } from '../../../companion/image/negative-presets';
import { fixture } from '../../helpers/paths';
import { DROP_ELEMENTS } from '../../../protocol';

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

test.each(DROP_ELEMENTS)('--drop %s = SCFG with the derived negative style image', async (preset) => {
  const a = await pipe.generate(request({ drop: preset }), { decode: false });
  const b = await pipe.generate(request({ negativeStyle: negativeStyleFromPreset(style, preset) }), { decode: false });
  const none = await pipe.generate(request({}), { decode: false });
  expect(same(a.variations[0]!.latents.data, b.variations[0]!.latents.data)).toBe(true);
  expect(same(a.variations[0]!.latents.data, none.variations[0]!.latents.data)).toBe(false);
});

test('several elements: one negative carrying them all (colour+lighting = colour, lighting+brushwork = texture, colour+brushwork new)', async () => {
  const lat = async (drop: PipelineRequest['drop']) => (await pipe.generate(request({ drop }), { decode: false })).variations[0]!.latents.data;
  expect(same(await lat(['colour', 'lighting']), await lat('colour'))).toBe(true);
  expect(same(await lat(['lighting', 'brushwork']), await lat('texture'))).toBe(true); // alpha differs, which CLIP never sees
  const both = await lat(['colour', 'brushwork']);
  expect(same(both, await lat('colour'))).toBe(false);
  expect(same(both, await lat('brushwork'))).toBe(false);
  const explicit = await pipe.generate(request({ negativeStyle: negativeStyleFromPreset(style, ['colour', 'brushwork']) }), { decode: false });
  expect(same(both, explicit.variations[0]!.latents.data)).toBe(true);
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

describe('issue 13.6: reference images reduced to the encoder\'s crop give the same pixels bit for bit', () => {
  // A noisy RGBA image with alpha (dropped by CLIP), of a given size: every resize path sees real detail.
  const noisy = (width: number, height: number, seed: number): RgbaImage => {
    const data = new Uint8Array(width * height * 4);
    let x = seed;
    for (let i = 0; i < data.length; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      data[i] = x >>> 24;
    }
    return { width, height, data };
  };
  const cases = [[320, 256], [256, 700], [1000, 250], [224, 224], [100, 60], [511, 513]] as const;
  test.each(cases)('%i×%i: none and square512, no negative, a user negative, every drop element', (w, h) => {
    const img = noisy(w, h, w * 7 + h);
    const userNegative = noisy(h, w, w + h * 3);
    for (const styleResize of ['none', 'square512'] as const) {
      for (const negative of [null, userNegative, ...DROP_ELEMENTS]) {
        const full = prepareStylePixels(img, negative, 224, styleResize);
        const reduced = reduceStyleImages(img, negative, 224, styleResize);
        expect([reduced.style.width, reduced.style.height]).toEqual([224, 224]);
        const again = prepareStylePixels(reduced.style, reduced.negative, 224, 'none');
        expect(same(again.style, full.style)).toBe(true);
        expect(full.negative === null ? again.negative === null : same(again.negative!, full.negative)).toBe(true);
      }
    }
  });

  test('in a worker: the same crops; a broken image fails with BAD_IMAGE', async () => {
    const here = reduceStyleImages(style, 'texture', 224, 'square512');
    const there = await reduceStyleImagesInWorker(style, 'texture', 224, 'square512');
    expect(Buffer.from(there.style.data).equals(Buffer.from(here.style.data))).toBe(true);
    expect(Buffer.from(there.negative!.data).equals(Buffer.from(here.negative!.data))).toBe(true);
    await expect(reduceStyleImagesInWorker({ width: 2, height: 2, data: new Uint8Array(3) }, null, 224, 'none'))
      .rejects.toMatchObject({ code: 'BAD_IMAGE' });
  });
});
