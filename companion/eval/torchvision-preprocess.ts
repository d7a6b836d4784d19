/**
 * CLIP preprocessing as torchvision does it: Resize(size, BICUBIC) → CenterCrop(size) → ToTensor → Normalize(OpenAI
 * mean/std) on a PIL image. CSD's evaluation transform is this, and so is open_clip's image_transform(size,
 * is_train=False) for the OpenAI-normalised models (ViT-bigG-14 among them). It differs from transformers'
 * CLIPImageProcessor (image/clip-preprocess.ts) in two places: the crop offset is int(round((h − size) / 2)) (Python
 * rounds halves to even) where transformers floors, and ToTensor divides by 255 in float32 where transformers
 * rescales in float64. The resize is the same Pillow call (torchvision hands PIL images to Image.resize).
 */
import { CLIP_MEAN, CLIP_STD, shortestEdgeResizeSize } from '../image/clip-preprocess';
import { pilResize } from '../image/pil-resize';
import { dropAlpha, type RgbaImage } from '../image/rgba';

/** Python's round(): halves to even (torchvision's CenterCrop offset). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The pipeline above, NCHW float32 [1, 3, size, size]. */
export function torchvisionClipPixels(image: RgbaImage, size: number): Float32Array {
  const rgb = dropAlpha(image);
  const [rw, rh] = shortestEdgeResizeSize(rgb.width, rgb.height, size);
  const resized = pilResize({ ...rgb, channels: 3 }, rw, rh, { filter: 'bicubic' });
  const top = roundHalfEven((rh - size) / 2);
  const left = roundHalfEven((rw - size) / 2);
  const f32 = Math.fround;
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let ch = 0; ch < 3; ch++) {
    const mean = f32(CLIP_MEAN[ch]!);
    const std = f32(CLIP_STD[ch]!);
    // ToTensor divides in float32, Normalize subtracts and divides in float32
    const lut = Float32Array.from({ length: 256 }, (_, byte) => f32(f32(f32(byte / 255) - mean) / std));
    for (let y = 0; y < size; y++) {
      const row = ((y + top) * rw + left) * 3 + ch;
      for (let x = 0; x < size; x++) out[ch * plane + y * size + x] = lut[resized.data[row + x * 3]!]!;
    }
  }
  return out;
}
