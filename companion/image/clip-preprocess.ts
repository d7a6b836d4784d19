/**
 * CLIP image preprocessing exactly as the reference feeds the IP-Adapter image encoder.
 *
 * diffusers' `load_ip_adapter` builds `CLIPImageProcessor(size=image_size, crop_size=image_size)`
 * from the image encoder's config (224 for every CLIP-ViT-H/G/L/bigG encoder used with SDXL), and
 * StyleStudio's scripts use `CLIPImageProcessor()` — the same defaults:
 *   convert('RGB') (alpha dropped) → resize the shortest side to 224 with PIL BICUBIC, the long
 *   side to int(224·long/short) → centre crop 224×224 at ((w−224)//2, (h−224)//2) → ×(1/255)
 *   computed in float64 then cast to float32 → (x − mean)/std in float32 with the OpenAI CLIP
 *   mean/std → NCHW float32 [1, 3, 224, 224].
 * Transformers 5 without torchvision uses CLIPImageProcessorPil, which is bit-identical to
 * transformers 4.x's slow processor and to the steps above (golden README, gotcha 7).
 *
 * `styleResize: 'square512'` first squashes the image to 512×512 with OpenCV's bilinear resize,
 * as the official StyleStudio CLI does (`cv2.resize(cv2.imread(p), (512, 512))`), aspect ratio
 * not kept; the default 'none' is what diffusers and the StyleStudio demo do.
 */
import { cv2ResizeLinear } from './cv2-resize';
import { pilResize, type PilPassOrder } from './pil-resize';
import { addOpaqueAlpha, dropAlpha, ImageError, type RgbaImage, type RgbImage, validateRgbImage } from './rgba';

/** OpenAI CLIP normalisation (transformers' OPENAI_CLIP_MEAN / OPENAI_CLIP_STD). */
export const CLIP_MEAN: readonly [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: readonly [number, number, number] = [0.26862954, 0.26130258, 0.27577711];
/** transformers' default rescale_factor, 1/255 as a Python float. */
export const CLIP_RESCALE_FACTOR = 0.00392156862745098;
export const CLIP_DEFAULT_IMAGE_SIZE = 224;
/** Side of the official CLI's squash. */
export const SQUARE_STYLE_SIZE = 512;

export type StyleResize = 'none' | 'square512';

export interface ClipPreprocessOptions {
  /** Shortest-edge target and crop size: the image encoder config's `image_size` (default 224). */
  imageSize?: number;
  styleResize?: StyleResize;
  /** Which Pillow's resize to mimic (see pil-resize.ts); default Pillow 13. */
  pilPassOrder?: PilPassOrder;
}

/** NCHW float32 pixel values, batch 1. */
export interface ClipPixelValues {
  readonly shape: readonly [1, 3, number, number];
  readonly data: Float32Array;
}

/** transformers' get_resize_output_image_size(default_to_square=False): [width, height]. */
export function shortestEdgeResizeSize(width: number, height: number, size: number): [number, number] {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  // Python evaluates int(size * long / short) left to right in float64; so does this.
  const newLong = Math.trunc((size * long) / short);
  return width <= height ? [size, newLong] : [newLong, size];
}

/** The image encoder's input size from its config.json (CLIPVisionConfig or a CLIPConfig). */
export function clipImageSizeFromConfig(config: unknown, file = 'image encoder config.json'): number {
  const c = config as { image_size?: unknown; vision_config?: { image_size?: unknown } } | null;
  const v = c?.image_size ?? c?.vision_config?.image_size;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new ImageError(`${file}: image_size must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** The official CLI's `cv2.resize(img, (512, 512))` (bilinear, aspect ratio not kept). */
export function squashToSquare(img: RgbImage, side = SQUARE_STYLE_SIZE): RgbImage {
  validateRgbImage(img, 'style image');
  const out = cv2ResizeLinear({ ...img, channels: 3 }, side, side);
  return { width: out.width, height: out.height, data: out.data };
}

/**
 * The 8-bit size×size crop CLIP normalises: (squash →) shortest-edge resize → centre crop. Everything the encoder
 * reads of an image; feeding this crop back with styleResize 'none' gives the same pixel values bit for bit (both
 * resizes return a same-size image unchanged), which is how the daemon keeps a queued job's images small.
 */
export function clipCrop(img: RgbImage, options: ClipPreprocessOptions = {}): RgbImage {
  validateRgbImage(img, 'style image');
  const size = options.imageSize ?? CLIP_DEFAULT_IMAGE_SIZE;
  if (!Number.isInteger(size) || size <= 0) throw new ImageError(`clip preprocess: imageSize must be a positive integer, got ${size}`);
  const styleResize = options.styleResize ?? 'none';
  if (styleResize !== 'none' && styleResize !== 'square512') {
    throw new ImageError(`clip preprocess: styleResize must be 'none' or 'square512', got ${String(styleResize)}`);
  }
  const src = styleResize === 'square512' ? squashToSquare(img) : img;

  const [rw, rh] = shortestEdgeResizeSize(src.width, src.height, size);
  const resized = pilResize({ ...src, channels: 3 }, rw, rh, { filter: 'bicubic', passOrder: options.pilPassOrder ?? 'pillow13' });
  // After a shortest-edge resize both sides are ≥ size, so the crop never needs padding.
  return cropSquare({ width: rw, height: rh, data: resized.data }, (rw - size) >> 1, (rh - size) >> 1, size);
}

/** The size×size window of an RGB image at (left, top), which must lie inside it. */
export function cropSquare(img: RgbImage, left: number, top: number, size: number): RgbImage {
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) data.set(img.data.subarray(((y + top) * img.width + left) * 3, ((y + top) * img.width + left + size) * 3), y * size * 3);
  return { width: size, height: size, data };
}

/**
 * A crop's bytes as OpenAI-normalised NCHW float32 planes: float32(float32(rescale(byte) − mean) / std) per channel,
 * through 256-entry tables. `rescale` is where the references differ (transformers: byte · (1/255) in float64, then
 * float32; torchvision's ToTensor: byte / 255 in float32).
 */
export function clipNormalize(crop: RgbImage, rescale: (byte: number) => number): Float32Array {
  const f32 = Math.fround;
  const plane = crop.width * crop.height;
  const data = new Float32Array(3 * plane);
  for (let ch = 0; ch < 3; ch++) {
    const mean = f32(CLIP_MEAN[ch]!);
    const std = f32(CLIP_STD[ch]!);
    const lut = Float32Array.from({ length: 256 }, (_, byte) => f32(f32(rescale(byte) - mean) / std));
    const base = ch * plane;
    for (let i = 0; i < plane; i++) data[base + i] = lut[crop.data[i * 3 + ch]!]!;
  }
  return data;
}

/** CLIPImageProcessor(...)(image).pixel_values for an RGB image. */
export function clipPreprocessRgb(img: RgbImage, options: ClipPreprocessOptions = {}): ClipPixelValues {
  const crop = clipCrop(img, options);
  return { shape: [1, 3, crop.width, crop.width], data: clipNormalize(crop, (byte) => Math.fround(byte * CLIP_RESCALE_FACTOR)) };
}

/** Same for an RGBA image: alpha is dropped first, like PIL's convert('RGB'). */
export function clipPreprocess(img: RgbaImage, options: ClipPreprocessOptions = {}): ClipPixelValues {
  return clipPreprocessRgb(dropAlpha(img), options);
}

/** clipCrop of an RGBA image as an opaque RGBA image: what a queued job keeps of a reference image. */
export function reduceForClip(img: RgbaImage, options: ClipPreprocessOptions = {}): RgbaImage {
  return addOpaqueAlpha(clipCrop(dropAlpha(img), options));
}
