/**
 * Conversions between images and the float tensors around the VAE, with diffusers' exact
 * arithmetic (VaeImageProcessor), plus a cheap latent preview for progress updates.
 *
 *  - decoder output → image: postprocess = clamp(x·0.5 + 0.5, 0, 1) in float32, then
 *    numpy_to_pil = round(v·255) (numpy rounds half to even) → uint8;
 *  - image → encoder input: pil_to_numpy = float32(byte) / 255 in float32, normalize = 2·v − 1.
 */
import { dropAlpha, ImageError, type RgbaImage, validateRgbaImage } from './rgba';

/** An NCHW float32 tensor as the ONNX side hands it over. */
export interface NchwTensor {
  readonly shape: readonly [number, number, number, number];
  readonly data: Float32Array;
}

const f32 = Math.fround;

/** numpy's rint: round half to even. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function checkNchw(t: NchwTensor, channels: number, what: string, batchIndex: number): void {
  const { shape, data } = t;
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ImageError(`${what}: shape must be [N, C, H, W] of positive integers, got ${JSON.stringify(shape)}`);
  }
  if (shape[1] !== channels) throw new ImageError(`${what}: expected ${channels} channels, got shape ${JSON.stringify(shape)}`);
  const n = shape[0] * shape[1] * shape[2] * shape[3];
  if (!(data instanceof Float32Array) || data.length !== n) {
    throw new ImageError(`${what}: shape ${JSON.stringify(shape)} needs ${n} float32 values, got ${data instanceof Float32Array ? data.length : typeof data}`);
  }
  if (!Number.isInteger(batchIndex) || batchIndex < 0 || batchIndex >= shape[0]) {
    throw new ImageError(`${what}: batch index ${batchIndex} out of range for batch ${shape[0]}`);
  }
}

/** diffusers' denormalize: clamp(x·0.5 + 0.5, 0, 1) in float32 (NaN stays NaN, as in torch). */
function denormalize(x: number): number {
  const v = f32(x * 0.5 + 0.5);
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/**
 * `VaeImageProcessor.postprocess(sample, output_type='np')[batchIndex]`: HWC float32 in [0, 1].
 */
export function vaeOutputToFloatHwc(sample: NchwTensor, batchIndex = 0): Float32Array {
  checkNchw(sample, 3, 'VAE output', batchIndex);
  const [, , h, w] = sample.shape;
  const plane = h * w;
  const base = batchIndex * 3 * plane;
  const out = new Float32Array(plane * 3);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++) out[i * 3 + c] = denormalize(sample.data[base + c * plane + i]!);
  }
  return out;
}

/**
 * `VaeImageProcessor.postprocess(sample, output_type='pil')[batchIndex]` as opaque RGBA.
 * A NaN anywhere (the classic fp16 SDXL VAE overflow) is an error, not a black pixel.
 */
export function vaeOutputToRgba(sample: NchwTensor, batchIndex = 0): RgbaImage {
  checkNchw(sample, 3, 'VAE output', batchIndex);
  const [, , h, w] = sample.shape;
  const plane = h * w;
  const base = batchIndex * 3 * plane;
  const out = new Uint8Array(plane * 4);
  let nans = 0;
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++) {
      const v = denormalize(sample.data[base + c * plane + i]!);
      if (Number.isNaN(v)) { nans++; continue; }
      out[i * 4 + c] = roundHalfEven(f32(v * 255));
    }
  }
  if (nans > 0) {
    throw new ImageError(`VAE output: ${nans} NaN values (an fp16 VAE overflow? decode in fp32 or use an fp16-fixed VAE)`);
  }
  for (let i = 0; i < plane; i++) out[i * 4 + 3] = 255;
  return { width: w, height: h, data: out };
}

/**
 * `VaeImageProcessor.preprocess(image)` for an image already at the generation size: NCHW [1,3,H,W]
 * in [-1, 1]. Alpha is dropped (convert('RGB')). diffusers would silently resize sizes that are not
 * multiples of the VAE factor; we refuse them so nothing is resampled behind the caller's back.
 */
export function rgbaToVaeInput(img: RgbaImage, multipleOf = 8): NchwTensor {
  validateRgbaImage(img, 'VAE input image');
  if (img.width % multipleOf !== 0 || img.height % multipleOf !== 0) {
    throw new ImageError(`VAE input image: ${img.width}x${img.height} is not a multiple of ${multipleOf} in both sides`);
  }
  const rgb = dropAlpha(img).data;
  const plane = img.width * img.height;
  const lut = new Float32Array(256);
  for (let b = 0; b < 256; b++) lut[b] = f32(2 * f32(b / 255) - 1);
  const data = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) for (let i = 0; i < plane; i++) data[c * plane + i] = lut[rgb[i * 3 + c]!]!;
  return { shape: [1, 3, img.height, img.width], data };
}

/**
 * Linear latent → RGB approximations (rgb = latent·M + bias, rgb in about [-1, 1]) for the model-space
 * latents the pipeline holds (VAE latents × scaling_factor). Coefficients from ComfyUI's
 * comfy/latent_formats.py (SDXL and SD15 `latent_rgb_factors`, SDXL `latent_rgb_factors_bias`),
 * fitted by least squares between latents and their decoded images.
 */
export const LATENT_RGB_FACTORS = {
  sdxl: {
    matrix: [
      [0.3651, 0.4232, 0.4341],
      [-0.2533, -0.0042, 0.1068],
      [0.1076, 0.1111, -0.0362],
      [-0.3165, -0.2492, -0.2188],
    ],
    bias: [0.1084, -0.0175, -0.0011],
  },
  sd15: {
    matrix: [
      [0.3512, 0.2297, 0.3227],
      [0.325, 0.4974, 0.235],
      [-0.2829, 0.1762, 0.2721],
      [-0.212, -0.2616, -0.7177],
    ],
    bias: [0, 0, 0],
  },
} as const;

export type LatentFamily = keyof typeof LATENT_RGB_FACTORS;

/** A preview at latent resolution (H/8 × W/8): for progress display only, not a decode. */
export function latentPreview(latents: NchwTensor, batchIndex = 0, family: LatentFamily = 'sdxl'): RgbaImage {
  checkNchw(latents, 4, 'latents', batchIndex);
  const factors = LATENT_RGB_FACTORS[family];
  if (!factors) throw new ImageError(`latent preview: unknown latent family ${JSON.stringify(family)}`);
  const [, , h, w] = latents.shape;
  const plane = h * w;
  const base = batchIndex * 4 * plane;
  const out = new Uint8Array(plane * 4);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      let v = factors.bias[c]!;
      for (let k = 0; k < 4; k++) v += latents.data[base + k * plane + i]! * factors.matrix[k]![c]!;
      const byte = Math.round((v + 1) * 127.5);
      out[i * 4 + c] = Number.isNaN(byte) ? 0 : byte < 0 ? 0 : byte > 255 ? 255 : byte;
    }
    out[i * 4 + 3] = 255;
  }
  return { width: w, height: h, data: out };
}
