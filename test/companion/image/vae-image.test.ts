import {
  latentPreview, LATENT_RGB_FACTORS, rgbaToVaeInput, vaeOutputToFloatHwc, vaeOutputToRgba, type NchwTensor,
} from '../../../companion/image/vae-image';
import { readImageFile } from '../../../companion/image/rgba';
import { fixture } from '../../helpers/paths';
import { readGolden, tensor } from './golden-file';

const golden = readGolden(fixture('image', 'image_goldens.safetensors'));
const nchw = (shape: number[], data: Float32Array): NchwTensor => ({ shape: shape as [number, number, number, number], data });

describe('VAE output → image, as diffusers VaeImageProcessor.postprocess', () => {
  const sample = tensor(golden, 'post.sample');
  const x = nchw(sample.shape, sample.f32);

  test('uint8 (output_type pil) is identical, including exact .5 ties and clamping', () => {
    const want = tensor(golden, 'post.uint8').u8; // [H, W, 3]
    const img = vaeOutputToRgba(x);
    expect([img.width, img.height]).toEqual([sample.shape[3], sample.shape[2]]);
    const bad: number[] = [];
    for (let i = 0; i < img.width * img.height; i++) {
      for (let c = 0; c < 3; c++) if (img.data[i * 4 + c] !== want[i * 3 + c]) bad.push(i * 3 + c);
      if (img.data[i * 4 + 3] !== 255) bad.push(-i);
    }
    expect(bad).toEqual([]);
    // the fixture holds exact ties (v·255 = k + 0.5 in float32, k even) where rounding half up would differ
    let evenTies = 0;
    for (const v of sample.f32) {
      const y = Math.fround(Math.min(1, Math.max(0, Math.fround(v * 0.5 + 0.5))) * 255);
      if (y - Math.floor(y) === 0.5 && Math.floor(y) % 2 === 0) evenTies++;
    }
    expect(evenTies).toBeGreaterThanOrEqual(2);
  });

  test('float (output_type np) is identical', () => {
    const want = tensor(golden, 'post.np').f32; // [1, H, W, 3]
    const got = vaeOutputToFloatHwc(x);
    expect(got.length).toBe(want.length);
    let maxAbs = 0;
    for (let i = 0; i < want.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i]! - want[i]!));
    expect(maxAbs).toBe(0);
  });

  test('batch index picks the row; NaN and bad shapes are errors', () => {
    const two = new Float32Array(2 * 3 * 2 * 2);
    two.fill(1, 12); // second image white
    expect(vaeOutputToRgba(nchw([2, 3, 2, 2], two), 1).data[0]).toBe(255);
    expect(vaeOutputToRgba(nchw([2, 3, 2, 2], two), 0).data[0]).toBe(128);
    expect(() => vaeOutputToRgba(nchw([2, 3, 2, 2], two), 2)).toThrow(/batch index 2 out of range for batch 2/);
    two[5] = Number.NaN;
    expect(() => vaeOutputToRgba(nchw([2, 3, 2, 2], two))).toThrow(/VAE output: 1 NaN values/);
    expect(() => vaeOutputToRgba(nchw([1, 4, 2, 2], new Float32Array(16)))).toThrow(/expected 3 channels/);
    expect(() => vaeOutputToRgba(nchw([1, 3, 2, 2], new Float32Array(11)))).toThrow(/needs 12 float32 values, got 11/);
  });
});

describe('image → VAE input, as diffusers VaeImageProcessor.preprocess', () => {
  test('golden PNG gives the identical [-1, 1] tensor', async () => {
    const img = await readImageFile(fixture('image', 'vae_pre.png'));
    const want = tensor(golden, 'pre.image');
    const got = rgbaToVaeInput(img);
    expect(got.shape).toEqual(want.shape);
    let diffs = 0;
    for (let i = 0; i < want.f32.length; i++) if (got.data[i] !== want.f32[i]) diffs++;
    expect(diffs).toBe(0);
  });

  test('round trip image → VAE input → image is lossless; sizes off the 8-grid are refused', () => {
    const data = new Uint8Array(16 * 8 * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 37) % 256));
    const img = { width: 16, height: 8, data };
    const back = vaeOutputToRgba(rgbaToVaeInput(img));
    expect(Buffer.from(back.data).equals(Buffer.from(data))).toBe(true);
    expect(() => rgbaToVaeInput({ width: 12, height: 8, data: new Uint8Array(12 * 8 * 4) })).toThrow('VAE input image: 12x8 is not a multiple of 8 in both sides');
  });
});

describe('latent preview', () => {
  test('applies latent·M + bias per pixel at latent resolution', () => {
    // 1x4x1x2: pixel 0 = zeros (bias only), pixel 1 = unit latent on channel 0
    const lat = nchw([1, 4, 1, 2], new Float32Array([0, 1, 0, 0, 0, 0, 0, 0]));
    const img = latentPreview(lat);
    expect([img.width, img.height]).toEqual([2, 1]);
    const { matrix, bias } = LATENT_RGB_FACTORS.sdxl;
    for (let c = 0; c < 3; c++) {
      expect(img.data[c]).toBe(Math.round((bias[c]! + 1) * 127.5));
      expect(img.data[4 + c]).toBe(Math.round((bias[c]! + matrix[0]![c]! + 1) * 127.5));
    }
    expect(img.data[3]).toBe(255);
    const big = latentPreview(nchw([1, 4, 1, 1], new Float32Array([100, 0, 0, 0])), 0, 'sd15');
    expect(Array.from(big.data)).toEqual([255, 255, 255, 255]);
    expect(() => latentPreview(nchw([1, 3, 1, 1], new Float32Array(3)))).toThrow(/latents: expected 4 channels/);
  });
});
