/**
 * CLIP preprocessing as torchvision does it: Resize(size, BICUBIC) → CenterCrop(size) → ToTensor → Normalize(OpenAI
 * mean/std) on a PIL image. CSD's evaluation transform is this, and so is open_clip's image_transform(size,
 * is_train=False) for the OpenAI-normalised models (ViT-bigG-14 among them). It differs from transformers'
 * CLIPImageProcessor (image/clip-preprocess.ts) in two places: the crop offset is int(round((h − size) / 2)) (Python
 * rounds halves to even) where transformers floors, and ToTensor divides by 255 in float32 where transformers
 * rescales in float64. The resize is the same Pillow call (torchvision hands PIL images to Image.resize).
 */
import { clipNormalize, cropSquare, shortestEdgeResizeSize } from '../image/clip-preprocess';
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
  const crop = cropSquare({ width: rw, height: rh, data: resized.data }, roundHalfEven((rw - size) / 2), roundHalfEven((rh - size) / 2), size);
  // ToTensor divides in float32, Normalize subtracts and divides in float32
  return clipNormalize(crop, (byte) => Math.fround(byte / 255));
}
