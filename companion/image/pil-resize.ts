/**
 * Pillow's `Image.resize(size, resample)` for 8-bit images, byte for byte (ImagingResample of
 * Pillow 13.0, read from its source). CLIPImageProcessor resizes with it, and sharp/libvips resamples
 * differently, so CLIP `pixel_values` only match the reference when we reproduce Pillow exactly:
 *
 *  - separable convolution in two passes with an 8-bit intermediate, horizontal first except when
 *    Pillow 13 chooses vertical first (see `PilResizeOptions.passOrder`);
 *  - each output sample's filter is centred at `(i + 0.5)·scale` in input coordinates, and on a
 *    downscale the filter is stretched by the scale (support·scale taps: Pillow's antialiasing);
 *  - per-output coefficients are normalised to sum 1 in double precision, then converted to fixed
 *    point with 22 fraction bits (rounded half away from zero), accumulated in integers starting
 *    from 0.5 (rounding), shifted back and clipped to 0..255;
 *  - a pass whose size does not change is skipped (it would be the identity anyway).
 *
 * Pillow premultiplies alpha before resizing RGBA; this function treats every channel
 * independently (PIL "RGB"/"L"), which is what CLIP preprocessing needs after `.convert('RGB')`.
 * Transformers calls `resize` with `box` = the whole image and `reducing_gap=None`, the only case
 * implemented here.
 */

export type PilFilter = 'bicubic' | 'bilinear' | 'lanczos' | 'box';

interface FilterDef {
  readonly support: number;
  readonly weight: (x: number) => number;
}

// Pillow's filters (Resample.c). The bicubic one is Keys' cubic convolution with a = -0.5; the
// evaluation order is kept as Pillow writes it so the doubles, hence the rounded integers, agree.
const BICUBIC_A = -0.5;
const FILTERS: Readonly<Record<PilFilter, FilterDef>> = {
  bicubic: {
    support: 2,
    weight: (x) => {
      const t = Math.abs(x);
      if (t < 1) return ((BICUBIC_A + 2) * t - (BICUBIC_A + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * BICUBIC_A;
      return 0;
    },
  },
  bilinear: {
    support: 1,
    weight: (x) => {
      const t = Math.abs(x);
      return t < 1 ? 1 - t : 0;
    },
  },
  lanczos: {
    support: 3,
    weight: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0),
  },
  box: {
    support: 0.5,
    weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0),
  },
};

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

/** Fraction bits of Pillow's fixed-point coefficients: 32 − 8 (result) − 2 (overshoot headroom). */
const PRECISION_BITS = 22;

/** Integer taps of one resampling pass: output i reads input [start[i], start[i]+count[i]). */
export interface ResampleTaps {
  readonly start: Int32Array;
  readonly count: Int32Array;
  /** Taps per output in `coeffs` (the maximum count). */
  readonly ksize: number;
  /** outSize·ksize fixed-point coefficients (22 fraction bits); unused slots are 0. */
  readonly coeffs: Int32Array;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for resizing inSize → outSize (whole range). */
export function pilResampleTaps(inSize: number, outSize: number, filter: PilFilter = 'bicubic'): ResampleTaps {
  const def = FILTERS[filter];
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = def.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const coeffs = new Int32Array(outSize * ksize);
  const weights = new Float64Array(ksize);
  const invFilterScale = 1 / filterScale;
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    // C casts truncate toward zero; both bounds are then clamped to the image.
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const n = hi - lo;
    let sum = 0;
    for (let k = 0; k < n; k++) {
      const w = def.weight((k + lo - center + 0.5) * invFilterScale);
      weights[k] = w;
      sum += w;
    }
    for (let k = 0; k < n; k++) {
      const w = sum !== 0 ? weights[k]! / sum : weights[k]!;
      const fixed = w * (1 << PRECISION_BITS);
      coeffs[i * ksize + k] = Math.trunc(w < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    start[i] = lo;
    count[i] = n;
  }
  return { start, count, ksize, coeffs };
}

/** Pillow's clip8: arithmetic shift back from fixed point, clamp to a byte. */
function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

const HALF = 1 << (PRECISION_BITS - 1);

/** An interleaved 8-bit image with 1–4 independent channels. */
export interface U8Image {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly data: Uint8Array;
}

function checkImage(img: U8Image): void {
  const { width, height, channels, data } = img;
  if (!Number.isInteger(channels) || channels < 1 || channels > 4) {
    throw new RangeError(`pilResize: channels must be 1..4, got ${channels}`);
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`pilResize: input size must be positive integers, got ${width}x${height}`);
  }
  if (data.length !== width * height * channels) {
    throw new RangeError(
      `pilResize: ${width}x${height}x${channels} needs ${width * height * channels} bytes, got ${data.length}`,
    );
  }
}

/** Which Pillow's order of passes to follow (see `pilResize`). */
export type PilPassOrder = 'pillow13' | 'horizontal-first';

export interface PilResizeOptions {
  filter?: PilFilter;
  /**
   * Pillow ≤ 12 always resampled horizontally first. Pillow 13 (python-pillow PR #9549) runs the
   * vertical pass first when the height shrinks by more than twice as many pixels as the width;
   * the 8-bit intermediate makes the two orders differ by ±1 here and there. Default: 'pillow13',
   * the version the goldens (and a current `pip install`) use.
   */
  passOrder?: PilPassOrder;
}

/** Horizontal pass over rows [firstRow, firstRow + rows) of `src`. */
function resampleRows(src: U8Image, outWidth: number, firstRow: number, rows: number, filter: PilFilter): U8Image {
  const { width, channels: c } = src;
  const taps = pilResampleTaps(width, outWidth, filter);
  const out = new Uint8Array(outWidth * rows * c);
  const data = src.data;
  for (let y = 0; y < rows; y++) {
    const rowBase = (y + firstRow) * width * c;
    for (let x = 0; x < outWidth; x++) {
      const s = taps.start[x]!;
      const n = taps.count[x]!;
      const kBase = x * taps.ksize;
      for (let ch = 0; ch < c; ch++) {
        let acc = HALF;
        let p = rowBase + s * c + ch;
        for (let k = 0; k < n; k++, p += c) acc += data[p]! * taps.coeffs[kBase + k]!;
        out[(y * outWidth + x) * c + ch] = clip8(acc);
      }
    }
  }
  return { width: outWidth, height: rows, channels: c, data: out };
}

/** Vertical pass with precomputed taps whose starts are relative to `src`'s first row. */
function resampleColumns(src: U8Image, taps: ResampleTaps, outHeight: number): U8Image {
  const { width, channels: c } = src;
  const data = src.data;
  const rowLen = width * c;
  const out = new Uint8Array(rowLen * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const s = taps.start[y]!;
    const n = taps.count[y]!;
    const kBase = y * taps.ksize;
    const outBase = y * rowLen;
    for (let i = 0; i < rowLen; i++) {
      let acc = HALF;
      let p = s * rowLen + i;
      for (let k = 0; k < n; k++, p += rowLen) acc += data[p]! * taps.coeffs[kBase + k]!;
      out[outBase + i] = clip8(acc);
    }
  }
  return { width, height: outHeight, channels: c, data: out };
}

/**
 * `Image.resize((outWidth, outHeight), filter)` of Pillow for an 8-bit image whose channels are
 * resampled independently (modes L, RGB). Returns a new image; the input is not modified.
 */
export function pilResize(img: U8Image, outWidth: number, outHeight: number, options: PilResizeOptions | PilFilter = {}): U8Image {
  const opts: PilResizeOptions = typeof options === 'string' ? { filter: options } : options;
  const filter = opts.filter ?? 'bicubic';
  if (!(filter in FILTERS)) throw new RangeError(`pilResize: unknown filter ${String(filter)}`);
  checkImage(img);
  if (!Number.isInteger(outWidth) || !Number.isInteger(outHeight) || outWidth <= 0 || outHeight <= 0) {
    throw new RangeError(`pilResize: output size must be positive integers, got ${outWidth}x${outHeight}`);
  }
  const { width, height, channels: c } = img;
  const needH = outWidth !== width;
  const needV = outHeight !== height;
  if (!needH && !needV) return { width, height, channels: c, data: img.data.slice() };

  const dy = height - outHeight;
  const verticalFirst = (opts.passOrder ?? 'pillow13') === 'pillow13' && dy > 0 && dy > (width - outWidth) * 2;
  if (verticalFirst) {
    let cur = resampleColumns(img, pilResampleTaps(height, outHeight, filter), outHeight);
    if (needH) cur = resampleRows(cur, outWidth, 0, outHeight, filter);
    return cur;
  }
  const vert = pilResampleTaps(height, outHeight, filter);
  let cur: U8Image = img;
  if (needH) {
    // Only the source rows the vertical pass reads are resampled (as Pillow does); same result.
    const firstRow = vert.start[0]!;
    const lastRow = vert.start[outHeight - 1]! + vert.count[outHeight - 1]!;
    cur = resampleRows(img, outWidth, firstRow, lastRow - firstRow, filter);
    for (let i = 0; i < outHeight; i++) vert.start[i] = vert.start[i]! - firstRow;
  }
  if (needV) cur = resampleColumns(cur, vert, outHeight);
  return cur;
}
