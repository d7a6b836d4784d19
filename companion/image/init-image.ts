/**
 * img2img's init image at the output size, before VaeImageProcessor.preprocess (vae-image.ts rgbaToVaeInput).
 *
 * Unlike the style image (whose transparent pixels keep their stored colour, as the reference's `convert('RGB')`
 * does), a restyled layer is flattened onto white: a cut-out layer's transparent area has no meaningful colour, and
 * the VAE would encode whatever Photoshop stored there (usually black). Opaque images are unchanged, so parity with
 * diffusers holds for them. A size that differs from the output is centre-cropped to the output's aspect, then
 * resized with Pillow's Lanczos (VaeImageProcessor's resample) — never stretched.
 */
import { addOpaqueAlpha, dropAlpha, type RgbaImage, validateRgbaImage } from './rgba';
import { pilResize } from './pil-resize';
import { centredCoverCrop, sizeForAspect } from '../../protocol';

/** Straight alpha composited onto white, rounded like Pillow's alpha_composite of 8-bit values. */
export function flattenOntoWhite(img: RgbaImage): RgbaImage {
  validateRgbaImage(img, 'init image');
  const src = img.data;
  let opaque = true;
  for (let p = 3; p < src.length; p += 4) {
    if (src[p] !== 255) {
      opaque = false;
      break;
    }
  }
  if (opaque) return img;
  const out = new Uint8Array(src.length);
  for (let p = 0; p < src.length; p += 4) {
    const a = src[p + 3]!;
    for (let c = 0; c < 3; c++) out[p + c] = Math.round((src[p + c]! * a + 255 * (255 - a)) / 255);
    out[p + 3] = 255;
  }
  return { width: img.width, height: img.height, data: out };
}

/**
 * An inpainting mask at latent resolution, as diffusers makes it for a 4-channel UNet: the mask (already at the output
 * size) to grey (Pillow's L), binarised at 0.5, then nearest-neighbour downsampling (torch's F.interpolate picks pixel
 * (f·i, f·j) for latent (i, j)). 1 = redraw, 0 = keep the init image.
 */
export function latentMask(mask: RgbaImage, factor: number): Uint8Array {
  validateRgbaImage(mask, 'inpainting mask');
  const h = Math.floor(mask.height / factor);
  const w = Math.floor(mask.width / factor);
  const out = new Uint8Array(h * w);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const p = ((i * factor) * mask.width + j * factor) * 4;
      const d = mask.data;
      // Pillow's RGB → L: (R·19595 + G·38470 + B·7471 + 2^15) >> 16; then value / 255 ≥ 0.5 ⇔ value ≥ 128
      const grey = (d[p]! * 19595 + d[p + 1]! * 38470 + d[p + 2]! * 7471 + 0x8000) >> 16;
      out[i * w + j] = grey >= 128 ? 1 : 0;
    }
  }
  return out;
}

/** The init image flattened and fitted to exactly width×height (the same object when nothing needs doing). */
export function fitInitImage(img: RgbaImage, width: number, height: number): RgbaImage {
  const flat = flattenOntoWhite(img);
  if (flat.width === width && flat.height === height) return flat;
  const { left, top, width: w, height: h } = centredCoverCrop(flat.width, flat.height, width, height);
  const rgb = dropAlpha(flat);
  const crop = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) crop.set(rgb.data.subarray(((top + y) * rgb.width + left) * 3, ((top + y) * rgb.width + left + w) * 3), y * w * 3);
  const resized = pilResize({ width: w, height: h, channels: 3, data: crop }, width, height, 'lanczos');
  return addOpaqueAlpha({ width, height, data: resized.data });
}

/**
 * An output size with the image's aspect, for `generate --init` without a full size: the given side (width or
 * height) is kept, else the long side is `longSide`; the other side is rounded to the nearest multiple of `stride`
 * (at least one stride).
 */
export function outputSizeFor(imgWidth: number, imgHeight: number, given: { width?: number; height?: number }, longSide: number, stride: number): [number, number] {
  const onStride = (v: number) => Math.max(stride, Math.round(v / stride) * stride);
  if (given.width !== undefined) return [given.width, onStride((given.width * imgHeight) / imgWidth)];
  if (given.height !== undefined) return [onStride((given.height * imgWidth) / imgHeight), given.height];
  const size = sizeForAspect(imgWidth, imgHeight, longSide, stride);
  return [size.width, size.height];
}
