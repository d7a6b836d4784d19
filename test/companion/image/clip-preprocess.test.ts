import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import {
  clipImageSizeFromConfig, clipPreprocess, clipPreprocessRgb, shortestEdgeResizeSize, squashToSquare,
} from '../../../companion/image/clip-preprocess';
import { cv2ResizeLinear } from '../../../companion/image/cv2-resize';
import { dropAlpha, readImageFile } from '../../../companion/image/rgba';
import { fixture } from '../../helpers/paths';
import { readGolden, tensor } from './golden-file';

const sha = (b: ArrayBufferView) => crypto.createHash('sha256').update(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)).digest('hex');
const imageGoldens = readGolden(fixture('image', 'image_goldens.safetensors'));
const meta = JSON.parse(fs.readFileSync(fixture('image', 'image_goldens.json'), 'utf8')) as {
  cases: { kind: string; name: string; in_wh: [number, number]; out_wh: [number, number] }[];
  styles: Record<string, { square512_rgb_sha256: string; square512_pixel_values_sha256: string }>;
};

describe('CLIP preprocessing equals transformers CLIPImageProcessor (golden image_encoder)', () => {
  test('style.png pixel_values: bit-identical to the golden (tolerance 1e-6 required)', async () => {
    const encoderGolden = readGolden(fixture('golden', 'image_encoder.safetensors'));
    const want = tensor(encoderGolden, 'style.pixel_values');
    const got = clipPreprocess(await readImageFile(fixture('golden', 'style.png')));
    expect(got.shape).toEqual(want.shape);
    let maxAbs = 0;
    let exact = 0;
    for (let i = 0; i < want.f32.length; i++) {
      const d = Math.abs(got.data[i]! - want.f32[i]!);
      maxAbs = Math.max(maxAbs, d);
      if (d === 0) exact++;
    }
    expect(maxAbs).toBeLessThanOrEqual(1e-6);
    expect(exact).toBe(want.f32.length);
  });

  test.each(Object.keys(meta.styles))('%s with style_resize square512 = cv2.resize 512² then CLIPImageProcessor()', async (png) => {
    const rgb = dropAlpha(await readImageFile(fixture('golden', png)));
    expect(sha(squashToSquare(rgb).data)).toBe(meta.styles[png]!.square512_rgb_sha256);
    const pv = clipPreprocessRgb(rgb, { styleResize: 'square512' });
    const corner = tensor(imageGoldens, `square512.${png}.pixel_values_corner`).f32; // [3, 8, 8]
    for (let ch = 0; ch < 3; ch++) {
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 8; x++) expect(pv.data[ch * 224 * 224 + y * 224 + x]).toBe(corner[ch * 64 + y * 8 + x]);
      }
    }
    expect(sha(pv.data)).toBe(meta.styles[png]!.square512_pixel_values_sha256);
  });

  test('shortest-edge sizes follow int(224·long/short)', () => {
    expect(shortestEdgeResizeSize(320, 256, 224)).toEqual([280, 224]);
    expect(shortestEdgeResizeSize(256, 320, 224)).toEqual([224, 280]);
    expect(shortestEdgeResizeSize(288, 288, 224)).toEqual([224, 224]);
    expect(shortestEdgeResizeSize(1000, 3, 224)).toEqual([74666, 224]);
    expect(shortestEdgeResizeSize(1023, 1024, 224)).toEqual([224, 224]); // 224.2 truncated
  });

  test('small and odd inputs are upscaled and cropped at the floor of the centre', () => {
    // 3x2 image: resize to 336x224, crop columns 56..279. Constant colour stays constant.
    const img = { width: 3, height: 2, data: new Uint8Array(18).fill(128) };
    const pv = clipPreprocessRgb(img);
    const v0 = Math.fround(Math.fround(Math.fround(128 * 0.00392156862745098) - Math.fround(0.48145466)) / Math.fround(0.26862954));
    expect(pv.data[0]).toBe(v0);
    expect(pv.data[224 * 224 - 1]).toBe(v0);
    expect(clipPreprocessRgb(img, { imageSize: 32 }).shape).toEqual([1, 3, 32, 32]);
  });

  test('image size from the encoder config; bad options are named', () => {
    expect(clipImageSizeFromConfig({ image_size: 224, patch_size: 14 })).toBe(224);
    expect(clipImageSizeFromConfig({ vision_config: { image_size: 336 } })).toBe(336);
    expect(() => clipImageSizeFromConfig({ image_size: '224' }, 'enc/config.json')).toThrow('enc/config.json: image_size must be a positive integer, got "224"');
    const img = { width: 2, height: 2, data: new Uint8Array(12) };
    expect(() => clipPreprocessRgb(img, { styleResize: 'square' as 'none' })).toThrow(/styleResize must be 'none' or 'square512', got square/);
    expect(() => clipPreprocessRgb(img, { imageSize: 0 })).toThrow(/imageSize must be a positive integer/);
    expect(() => clipPreprocessRgb({ width: 2, height: 2, data: new Uint8Array(11) })).toThrow(/style image: 2x2x3 needs 12 bytes/);
  });
});

describe('cv2ResizeLinear is byte-identical to cv2.resize (opencv-python 4.14, INTER_LINEAR)', () => {
  const cases = meta.cases.filter((c) => c.kind === 'cv2');
  test('the fixture has the edge cases', () => expect(cases.length).toBeGreaterThanOrEqual(8));
  test.each(cases.map((c) => [`${c.name} ${c.in_wh.join('x')} -> ${c.out_wh.join('x')}`, c] as const))('%s', (_l, c) => {
    const src = tensor(imageGoldens, `cv2.${c.name}.src`).u8;
    const want = tensor(imageGoldens, `cv2.${c.name}.dst`).u8;
    const got = cv2ResizeLinear({ width: c.in_wh[0], height: c.in_wh[1], channels: 3, data: src }, c.out_wh[0], c.out_wh[1]);
    let diffs = 0;
    for (let i = 0; i < want.length; i++) if (got.data[i] !== want[i]) diffs++;
    expect(got.data.length).toBe(want.length);
    expect(diffs).toBe(0);
  });
  test('rejects bad sizes', () => {
    expect(() => cv2ResizeLinear({ width: 2, height: 2, channels: 3, data: new Uint8Array(12) }, 5, -1)).toThrow(/output size must be positive integers, got 5x-1/);
  });
});
