/**
 * Where a result goes and the exact pixels written there, shared by every Host: fitted inside the target (aspect
 * kept, centred), or covering a selection's box (centre-cropped). Resized here so the host writes it once, unscaled.
 */
import { boundsHeight, boundsWidth, coverCrop, fitInside } from './geometry';
import type { Bounds, RgbaImage } from './host';
import { resizeRgba } from './resample';

export interface PlacedImage {
  readonly left: number;
  readonly top: number;
  readonly image: RgbaImage;
}

/** The image fitted inside `target`, keeping its aspect ratio, centred. */
export function placeFitted(image: RgbaImage, target: Bounds): PlacedImage {
  const p = fitInside(image.width, image.height, target);
  return { left: p.left, top: p.top, image: { width: p.width, height: p.height, data: resizeRgba(image.data, image.width, image.height, p.width, p.height) } };
}

/** The image scaled to cover `target` exactly, its overhang cropped evenly from both sides. */
export function placeCovering(image: RgbaImage, target: Bounds): PlacedImage {
  const crop = coverCrop(image.width, image.height, target);
  const cropped = cropRgba(image, crop.left, crop.top, crop.width, crop.height);
  const width = boundsWidth(target);
  const height = boundsHeight(target);
  return { left: target.left, top: target.top, image: { width, height, data: resizeRgba(cropped, crop.width, crop.height, width, height) } };
}

function cropRgba(image: RgbaImage, left: number, top: number, width: number, height: number): Uint8Array {
  if (left === 0 && top === 0 && width === image.width && height === image.height) return image.data;
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * image.width + left) * 4;
    out.set(image.data.subarray(from, from + width * 4), y * width * 4);
  }
  return out;
}
