/**
 * Negative-style presets [our extension — not in the StyleStudio paper or code].
 *
 * Style-based CFG uses a negative style image in place of the unconditional style tokens, so the
 * sampler moves away from whatever the negative shares with the style image. StyleStudio's own
 * negatives are hand-made (a photoreal re-render of the same layout). We derive one per element from
 * the style image itself:
 *
 *  - drop 'colour': the negative is a heavily blurred colour field of the style image. It keeps the
 *    palette and its coarse placement but none of the strokes, edges or texture, so SCFG cancels
 *    the colours and keeps the rendering/texture.
 *  - drop 'texture': the negative is the style image in greyscale (Rec.709 luma, 3 channels equal).
 *    It keeps every stroke and edge but no colour, so SCFG cancels the texture and keeps the colours.
 *  - drop 'lighting': the colour field in greyscale, i.e. the luminance blurred as for 'colour'. It keeps where the
 *    image is light and dark and its tonal key, but no colour and no stroke, so SCFG cancels the light and keeps
 *    the palette and the rendering.
 *  - drop 'brushwork': the luminance minus that blurred luminance, on mid-grey. It keeps the strokes, edges and
 *    grain but neither colour nor the light's layout, so SCFG cancels the brushwork and keeps colour and light.
 *    (In luminance, texture = lighting + brushwork: 'texture' leaves out both, 'brushwork' only the strokes.)
 *
 * These are the elements a designer can untick; each negative is made from the reference itself, in the spirit of
 * CleanStyle's style-specific CFG (a negative carrying exactly what is to be left out). Several elements give one
 * negative carrying all of them (composeNegative): luminance = the reference's (light and strokes), the blurred one
 * (light only), the detail on mid-grey (strokes only) or mid-grey; plus the colour field's colour where colour is left
 * out ('colour' and 'texture' bring the light with them, as their single images do).
 * All have the style image's size, so they go through the same CLIP preprocessing as the style.
 * Whether they help is to be measured with real weights (docs/EVALUATION.md, the sweep's avoid axis).
 */
import { DROP_ELEMENTS, dropElements, type DropElement, type DropSpec } from '../../protocol';
import { ImageError, type RgbaImage, validateRgbaImage } from './rgba';

/**
 * Blur strength: Gaussian sigma = short side / 8. CLIP sees the image at 224² (ViT patches of 14 or
 * 16 px, a 14–16 cell grid), so sigma ≈ 28 px there, about two patches: every patch then sees a
 * smooth mixture of its neighbourhood's colours, with no edge or texture energy left at the scale
 * CLIP's patch embedding resolves, while the image still varies over its four quadrants (a global
 * mean colour alone would also drop the palette's layout and make a weaker negative).
 */
export const COLOUR_FIELD_SIGMA_FRACTION = 1 / 8;

/** Rec.709 luma weights applied to the sRGB-encoded values (what "greyscale" means for CLIP here). */
export const REC709_LUMA: readonly [number, number, number] = [0.2126, 0.7152, 0.0722];

/** Greyscale version, R=G=B=round(luma), alpha kept. */
export function greyscaleRec709(img: RgbaImage): RgbaImage {
  validateRgbaImage(img, 'style image');
  const src = img.data;
  const out = new Uint8Array(src.length);
  const [wr, wg, wb] = REC709_LUMA;
  for (let p = 0; p < src.length; p += 4) {
    const y = Math.round(wr * src[p]! + wg * src[p + 1]! + wb * src[p + 2]!);
    out[p] = y; out[p + 1] = y; out[p + 2] = y; out[p + 3] = src[p + 3]!;
  }
  return { width: img.width, height: img.height, data: out };
}

/** Mirror index without repeating the edge sample (…2 1 | 0 1 2 … n−1 | n−2 …), any distance. */
function reflect101(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const m = ((i % period) + period) % period;
  return m < n ? m : period - m;
}

/** One box-filter pass of radius r along lines of `n` samples, mirrored at the edges. */
function boxPass(
  src: Float32Array, dst: Float32Array, lines: number, n: number, lineStride: number, step: number, r: number,
): void {
  const norm = 1 / (2 * r + 1);
  const index = new Int32Array(n + 2 * r + 1);
  for (let k = 0; k < index.length; k++) index[k] = reflect101(k - r, n) * step;
  const window = 2 * r + 1;
  for (let l = 0; l < lines; l++) {
    const base = l * lineStride;
    let sum = 0;
    for (let k = 0; k < window; k++) sum += src[base + index[k]!]!;
    for (let i = 0; i < n; i++) {
      dst[base + i * step] = sum * norm;
      // index[k] holds the mirrored sample k − r: the window of i+1 adds i+r+1 and drops i−r.
      sum += src[base + index[i + window]!]! - src[base + index[i]!]!;
    }
  }
}

/**
 * Separable Gaussian-like blur of the RGB channels: three box passes per axis (a standard
 * approximation: variance 3·r(r+1) ≈ sigma²), edges mirrored (a replicated edge pixel would
 * weigh r+1 times and tint the border), then the per-channel mean is restored exactly (mirroring
 * still over-weights the border band a little).
 * The result is opaque: alpha does not reach CLIP (convert('RGB') drops it).
 */
export function colourField(img: RgbaImage, sigma?: number): RgbaImage {
  validateRgbaImage(img, 'style image');
  const { width: w, height: h } = img;
  const s = sigma ?? Math.min(w, h) * COLOUR_FIELD_SIGMA_FRACTION;
  if (!(s >= 0) || !Number.isFinite(s)) throw new ImageError(`colour field: sigma must be a finite number ≥ 0, got ${s}`);
  // Three boxes of radius r: sigma² = r(r+1) → r = round(sqrt(sigma² + 1/4) − 1/2).
  const r = Math.round(Math.sqrt(s * s + 0.25) - 0.5);
  const n = w * h;
  const out = new Uint8Array(n * 4);
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let ch = 0; ch < 3; ch++) {
    let mean = 0;
    for (let i = 0; i < n; i++) {
      const v = img.data[i * 4 + ch]!;
      a[i] = v;
      mean += v;
    }
    mean /= n;
    if (r > 0) {
      for (let pass = 0; pass < 3; pass++) {
        boxPass(a, b, h, w, w, 1, r); // rows
        boxPass(b, a, w, h, 1, w, r); // columns
      }
    }
    let blurredMean = 0;
    for (let i = 0; i < n; i++) blurredMean += a[i]!;
    const shift = mean - blurredMean / n;
    for (let i = 0; i < n; i++) {
      const v = Math.round(a[i]! + shift);
      out[i * 4 + ch] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  for (let i = 0; i < n; i++) out[i * 4 + 3] = 255;
  return { width: w, height: h, data: out };
}

/** The light's layout and tonal key: the colour field in greyscale (opaque). */
export function lightField(img: RgbaImage): RgbaImage {
  return greyscaleRec709(colourField(img));
}

/** Mid-grey, the level brushwork detail is drawn around. */
export const DETAIL_GREY = 128;

/**
 * The strokes without colour or light: greyscale luminance minus its colour-field blur, around mid-grey (opaque).
 * Subtracting the blur of the same greyscale image removes exactly what lightField keeps.
 */
export function brushworkDetail(img: RgbaImage): RgbaImage {
  const grey = greyscaleRec709(img);
  const light = colourField(grey);
  const out = new Uint8Array(grey.data.length);
  for (let p = 0; p < out.length; p += 4) {
    const v = grey.data[p]! - light.data[p]! + DETAIL_GREY;
    const y = v < 0 ? 0 : v > 255 ? 255 : v;
    out[p] = y; out[p + 1] = y; out[p + 2] = y; out[p + 3] = 255;
  }
  return { width: img.width, height: img.height, data: out };
}

/**
 * The negative for several elements: luminance from the parts the elements carry (light: colour, texture, lighting;
 * strokes: texture, brushwork), plus the colour field's colour (its RGB minus its own luminance) for colour (opaque).
 */
export function composeNegative(img: RgbaImage, elements: readonly DropElement[]): RgbaImage {
  validateRgbaImage(img, 'style image');
  const has = (e: DropElement) => elements.includes(e);
  const light = has('colour') || has('texture') || has('lighting');
  const strokes = has('texture') || has('brushwork');
  const luma = light && strokes ? greyscaleRec709(img) : light ? lightField(img) : strokes ? brushworkDetail(img) : null;
  const field = has('colour') ? colourField(img) : null;
  const fieldLuma = field === null ? null : greyscaleRec709(field);
  const out = new Uint8Array(img.data.length);
  for (let p = 0; p < out.length; p += 4) {
    const y = luma === null ? DETAIL_GREY : luma.data[p]!;
    for (let c = 0; c < 3; c++) {
      const v = field === null ? y : y + field.data[p + c]! - fieldLuma!.data[p]!;
      out[p + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    out[p + 3] = 255;
  }
  return { width: img.width, height: img.height, data: out };
}

/**
 * The negative style image for `--drop`: the reference's element(s) and as little else as possible. One element gives
 * its own image below; several, composeNegative.
 */
export function negativeStyleFromPreset(style: RgbaImage, drop: DropSpec): RgbaImage {
  const given: readonly string[] = typeof drop === 'string' ? [drop] : drop;
  const unknown = given.find((e) => !(DROP_ELEMENTS as readonly string[]).includes(e));
  if (unknown !== undefined || given.length === 0) {
    throw new ImageError(`--drop must be one of ${DROP_ELEMENTS.join(', ')}, got ${JSON.stringify(unknown ?? drop)}`);
  }
  const elements = dropElements(drop);
  if (elements.length > 1) return composeNegative(style, elements);
  const preset = elements[0]!;
  switch (preset) {
    case 'colour':
      return colourField(style);
    case 'texture':
      return greyscaleRec709(style);
    case 'lighting':
      return lightField(style);
    case 'brushwork':
      return brushworkDetail(style);
    default: {
      const never: never = preset;
      throw new ImageError(`unknown drop element ${String(never)}`);
    }
  }
}
