/** CLIP pixel values of the style image and of the SCFG negative (a user image or a drop preset [ours]). */
import { clipPreprocess } from '../image/clip-preprocess';
import { negativeStyleFromPreset } from '../image/negative-presets';
import { type RgbaImage, validateRgbaImage } from '../image/rgba';

/** null negative: the unconditional side uses zero features (proj(zeros), METHOD.md §0). */
export interface StylePixels {
  readonly style: Float32Array;
  readonly negative: Float32Array | null;
}

export function prepareStylePixels(
  style: RgbaImage, negative: RgbaImage | 'colour' | 'texture' | null, imageSize: number, styleResize: 'none' | 'square512',
): StylePixels {
  validateRgbaImage(style, 'style image');
  if (negative !== null && typeof negative !== 'string') validateRgbaImage(negative, 'negative style image');
  const opts = { imageSize, styleResize };
  const neg = negative === null ? null : typeof negative === 'string' ? negativeStyleFromPreset(style, negative) : negative;
  return {
    style: clipPreprocess(style, opts).data,
    negative: neg === null ? null : clipPreprocess(neg, opts).data,
  };
}
