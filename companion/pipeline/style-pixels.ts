/** CLIP pixel values of the style image and of the SCFG negative (a user image or a drop preset [ours]). */
import type { DropSpec } from '../../protocol';
import { clipPreprocess, reduceForClip } from '../image/clip-preprocess';
import { negativeStyleFromPreset } from '../image/negative-presets';
import { type RgbaImage, validateRgbaImage } from '../image/rgba';

type NegativeStyle = RgbaImage | DropSpec | null;

/** null negative: the unconditional side uses zero features (proj(zeros), METHOD.md §0). */
export interface StylePixels {
  readonly style: Float32Array;
  readonly negative: Float32Array | null;
}

/** The style image and the SCFG negative reduced to what the encoder reads (see reduceStyleImages). */
export interface ReducedStyleImages {
  readonly style: RgbaImage;
  /** The user's negative image or the drop preset's, made from the full style image; null without a negative. */
  readonly negative: RgbaImage | null;
}

/** Checks both images and applies `map` to the style and to the negative (a drop preset made from the style first). */
function eachStyleImage<T>(style: RgbaImage, negative: NegativeStyle, map: (image: RgbaImage) => T): { style: T; negative: T | null } {
  validateRgbaImage(style, 'style image');
  const derived = typeof negative === 'string' || Array.isArray(negative); // a drop spec, not an image
  if (negative !== null && !derived) validateRgbaImage(negative, 'negative style image');
  const neg = negative === null ? null : derived ? negativeStyleFromPreset(style, negative) : negative;
  return { style: map(style), negative: neg === null ? null : map(neg) };
}

export function prepareStylePixels(style: RgbaImage, negative: NegativeStyle, imageSize: number, styleResize: 'none' | 'square512'): StylePixels {
  return eachStyleImage(style, negative, (image) => clipPreprocess(image, { imageSize, styleResize }).data);
}

/**
 * Reduces the reference images to their imageSize² CLIP crops. prepareStylePixels(reduced…, 'none') equals
 * prepareStylePixels(full…, styleResize) bit for bit, so a queued job can hold ~200 KB per image instead of the upload.
 */
export function reduceStyleImages(style: RgbaImage, negative: NegativeStyle, imageSize: number, styleResize: 'none' | 'square512'): ReducedStyleImages {
  return eachStyleImage(style, negative, (image) => reduceForClip(image, { imageSize, styleResize }));
}
