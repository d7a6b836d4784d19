/**
 * Resizes 8-bit RGBA to an exact size before it goes to putPixels (Photoshop's layer.scale resamples again and
 * drifts the anchor). Separable: area averaging on an axis that shrinks, bilinear on one that grows.
 */

/** Weights of source pixels for each destination pixel along one axis. */
interface Taps {
  readonly start: Int32Array;
  readonly count: Int32Array;
  readonly weights: Float32Array;
  readonly stride: number;
}

function axisTaps(src: number, dst: number): Taps {
  const scale = src / dst;
  const stride = scale > 1 ? Math.ceil(scale) + 2 : 2;
  const start = new Int32Array(dst);
  const count = new Int32Array(dst);
  const weights = new Float32Array(dst * stride);
  for (let d = 0; d < dst; d++) {
    if (scale > 1) {
      // Area: the source interval [d·scale, (d+1)·scale) with fractional end pixels.
      const a = d * scale;
      const b = Math.min(src, (d + 1) * scale);
      const first = Math.floor(a);
      let n = 0;
      for (let s = first; s < b && n < stride; s++, n++) weights[d * stride + n] = (Math.min(s + 1, b) - Math.max(s, a)) / (b - a);
      start[d] = first;
      count[d] = n;
    } else {
      // Bilinear between the two nearest source centres.
      const x = Math.min(src - 1, Math.max(0, (d + 0.5) * scale - 0.5));
      const first = Math.min(src - 1, Math.floor(x));
      const t = x - first;
      start[d] = first;
      count[d] = first + 1 < src ? 2 : 1;
      weights[d * stride] = count[d] === 2 ? 1 - t : 1;
      weights[d * stride + 1] = count[d] === 2 ? t : 0;
    }
  }
  return { start, count, weights, stride };
}

export function resizeRgba(data: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): Uint8Array {
  if (data.length !== width * height * 4) throw new RangeError(`RGBA of ${width}×${height} needs ${width * height * 4} bytes, got ${data.length}`);
  if (!(outWidth >= 1 && outHeight >= 1 && Number.isInteger(outWidth) && Number.isInteger(outHeight))) throw new RangeError(`cannot resize to ${outWidth}×${outHeight}`);
  if (outWidth === width && outHeight === height) return data;
  const tx = axisTaps(width, outWidth);
  const ty = axisTaps(height, outHeight);
  // Horizontal pass into floats (height × outWidth), then vertical into bytes.
  const mid = new Float32Array(height * outWidth * 4);
  for (let y = 0; y < height; y++) {
    const row = y * width * 4;
    for (let x = 0; x < outWidth; x++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let k = 0; k < tx.count[x]!; k++) {
        const w = tx.weights[x * tx.stride + k]!;
        const i = row + (tx.start[x]! + k) * 4;
        r += data[i]! * w; g += data[i + 1]! * w; b += data[i + 2]! * w; a += data[i + 3]! * w;
      }
      const o = (y * outWidth + x) * 4;
      mid[o] = r; mid[o + 1] = g; mid[o + 2] = b; mid[o + 3] = a;
    }
  }
  const out = new Uint8Array(outWidth * outHeight * 4);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let k = 0; k < ty.count[y]!; k++) {
        const w = ty.weights[y * ty.stride + k]!;
        const i = ((ty.start[y]! + k) * outWidth + x) * 4;
        r += mid[i]! * w; g += mid[i + 1]! * w; b += mid[i + 2]! * w; a += mid[i + 3]! * w;
      }
      const o = (y * outWidth + x) * 4;
      out[o] = Math.round(r); out[o + 1] = Math.round(g); out[o + 2] = Math.round(b); out[o + 3] = Math.round(a);
    }
  }
  return out;
}
