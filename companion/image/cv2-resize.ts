/**
 * OpenCV's `cv2.resize(img, (w, h))` (default INTER_LINEAR) for 8-bit images, reproduced bit for bit
 * as the opencv-python 4.x x86-64 wheels compute it. The official StyleStudio scripts squash every
 * style image with `cv2.resize(cv2.imread(p), (512, 512))` before CLIP preprocessing; our
 * `style_resize: 'square512'` option has to give the same pixels.
 *
 * What OpenCV does for CV_8U (resize.cpp, facts checked against cv2 4.14 goldens):
 *  - an exact 2× reduction in both axes is routed to INTER_AREA's fast path: the rounded mean of
 *    each 2×2 block, (a+b+c+d+2)>>2;
 *  - otherwise bilinear with half-pixel centres and NO antialiasing: source x = (dx+0.5)·scale−0.5
 *    computed in double then rounded to float; the fraction f gives 11-bit fixed-point weights
 *    round((1−f)·2048), round(f·2048) (round half to even, as cvRound); horizontal samples outside
 *    the image use the edge pixel with weight 2048; rows outside are clamped to the edge row while
 *    keeping their weights;
 *  - the horizontal pass keeps 32-bit sums (value·2048); the vertical pass combines two rows with
 *    OpenCV's SIMD arithmetic ((S0>>4)·b0>>16) + ((S1>>4)·b1>>16), then (v+2)>>2 — not the exact
 *    (S0·b0 + S1·b1 + 2^21)>>22 of its scalar code, which differs by one now and then. cv2 4.14
 *    uses the SIMD form for every byte of a row, even rows shorter than one register (checked
 *    with 9-, 15-, 27- and 303-byte rows).
 */
import type { U8Image } from './pil-resize';

const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;

const f32 = Math.fround;

/** C's lrint / cvRound on a float: round half to even. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function checkArgs(img: U8Image, outWidth: number, outHeight: number): void {
  const { width, height, channels, data } = img;
  if (!Number.isInteger(channels) || channels < 1 || channels > 4) {
    throw new RangeError(`cv2Resize: channels must be 1..4, got ${channels}`);
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`cv2Resize: input size must be positive integers, got ${width}x${height}`);
  }
  if (data.length !== width * height * channels) {
    throw new RangeError(`cv2Resize: ${width}x${height}x${channels} needs ${width * height * channels} bytes, got ${data.length}`);
  }
  if (!Number.isInteger(outWidth) || !Number.isInteger(outHeight) || outWidth <= 0 || outHeight <= 0) {
    throw new RangeError(`cv2Resize: output size must be positive integers, got ${outWidth}x${outHeight}`);
  }
}

/** Source index and the two fixed-point weights of each output coordinate along one axis. */
function linearTaps(inSize: number, outSize: number, clampEdges: boolean): { index: Int32Array; w0: Int32Array; w1: Int32Array } {
  const scale = 1 / (outSize / inSize); // OpenCV stores inv_scale = dst/src and inverts it
  const index = new Int32Array(outSize);
  const w0 = new Int32Array(outSize);
  const w1 = new Int32Array(outSize);
  for (let d = 0; d < outSize; d++) {
    let f = f32((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = f32(f - s);
    if (clampEdges) {
      if (s < 0) { f = 0; s = 0; }
      if (s >= inSize - 1) { f = 0; s = inSize - 1; }
    }
    index[d] = s;
    w0[d] = roundHalfEven(f32(1 - f) * COEF_SCALE);
    w1[d] = roundHalfEven(f * COEF_SCALE);
  }
  return { index, w0, w1 };
}

function halveArea(img: U8Image, outWidth: number, outHeight: number): U8Image {
  const { width, channels: c, data } = img;
  const out = new Uint8Array(outWidth * outHeight * c);
  const row = width * c;
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      const p = 2 * y * row + 2 * x * c;
      for (let ch = 0; ch < c; ch++) {
        const sum = data[p + ch]! + data[p + c + ch]! + data[p + row + ch]! + data[p + row + c + ch]!;
        out[(y * outWidth + x) * c + ch] = (sum + 2) >> 2;
      }
    }
  }
  return { width: outWidth, height: outHeight, channels: c, data: out };
}

/** `cv2.resize(img, (outWidth, outHeight))` with the default INTER_LINEAR, 8-bit, channels independent. */
export function cv2ResizeLinear(img: U8Image, outWidth: number, outHeight: number): U8Image {
  checkArgs(img, outWidth, outHeight);
  const { width, height, channels: c, data } = img;
  if (width === outWidth && height === outHeight) return { width, height, channels: c, data: data.slice() };
  if (width === 2 * outWidth && height === 2 * outHeight) return halveArea(img, outWidth, outHeight);

  const hx = linearTaps(width, outWidth, true);
  const vy = linearTaps(height, outHeight, false);
  const rowLen = outWidth * c;

  // Horizontal pass of every source row (values scaled by 2048).
  const horiz = new Int32Array(rowLen * height);
  for (let y = 0; y < height; y++) {
    const src = y * width * c;
    const dst = y * rowLen;
    for (let x = 0; x < outWidth; x++) {
      const s = hx.index[x]!;
      for (let ch = 0; ch < c; ch++) {
        const p = src + s * c + ch;
        horiz[dst + x * c + ch] = s >= width - 1
          ? data[p]! * COEF_SCALE
          : data[p]! * hx.w0[x]! + data[p + c]! * hx.w1[x]!;
      }
    }
  }

  const out = new Uint8Array(rowLen * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const s = vy.index[y]!;
    const r0 = Math.min(Math.max(s, 0), height - 1) * rowLen;
    const r1 = Math.min(Math.max(s + 1, 0), height - 1) * rowLen;
    const b0 = vy.w0[y]!;
    const b1 = vy.w1[y]!;
    const o = y * rowLen;
    for (let i = 0; i < rowLen; i++) {
      // v_pack saturates S>>4 to int16 (never reached: 255·2048>>4 < 32768); v_mul_hi = (a·b)>>16
      const v = ((horiz[r0 + i]! >> 4) * b0 >> 16) + ((horiz[r1 + i]! >> 4) * b1 >> 16);
      const q = (v + 2) >> 2;
      out[o + i] = q < 0 ? 0 : q > 255 ? 255 : q;
    }
  }
  return { width: outWidth, height: outHeight, channels: c, data: out };
}
