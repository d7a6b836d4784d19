/**
 * Content/layout agreement between two images, from the image tower's patch tokens: the structure measure of
 * Tumanyan et al., "Splicing ViT Features for Semantic Appearance Transfer" (CVPR 2022), which compares the
 * self-similarity of each image's patch descriptors rather than the descriptors themselves. Self-similarity says which
 * parts of one image resemble which other parts of the same image, so it follows where things are and what belongs
 * together, and is largely blind to the colours and textures a style changes.
 *   1. centre each image's tokens (subtract their mean: CLIP tokens share a large common component that would push
 *      every cosine towards 1);
 *   2. S[i][j] = cos(t_i, t_j) over the patch grid, i < j;
 *   3. layout(a, b) = Pearson correlation of S_a and S_b over those pairs, in [−1, 1] (1 = same structure).
 * Tumanyan et al. use DINO-ViT keys; we use the CLIP image tower's penultimate tokens because every user already
 * has it (docs/EVALUATION.md lists where this misleads).
 */
import type { ImageFeatures } from './clip-towers';

/** The upper triangle (i < j) of the cosine self-similarity of the centred tokens, in float64. */
export function selfSimilarity(tokens: ImageFeatures['patchTokens']): Float64Array {
  const { count, width, data } = tokens;
  if (count < 3) throw new RangeError(`layout needs at least 3 patch tokens, got ${count}`);
  if (data.length !== count * width) throw new RangeError(`patch tokens: ${data.length} values for ${count}×${width}`);
  const mean = new Float64Array(width);
  for (let i = 0; i < count; i++) for (let k = 0; k < width; k++) mean[k]! += data[i * width + k]! / count;
  const centred = new Float64Array(count * width);
  for (let i = 0; i < count; i++) {
    let norm = 0;
    for (let k = 0; k < width; k++) {
      const v = data[i * width + k]! - mean[k]!;
      centred[i * width + k] = v;
      norm += v * v;
    }
    // a token equal to the mean has no direction: it stays zero, and its similarities are 0
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let k = 0; k < width; k++) centred[i * width + k]! *= inv;
  }
  const out = new Float64Array((count * (count - 1)) / 2);
  let n = 0;
  for (let i = 0; i < count; i++) {
    for (let j = i + 1; j < count; j++) {
      let dot = 0;
      for (let k = 0; k < width; k++) dot += centred[i * width + k]! * centred[j * width + k]!;
      out[n++] = dot;
    }
  }
  return out;
}

/** Pearson correlation of two self-similarity vectors (same patch grid); 0 when either is constant. */
export function layoutSimilarity(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) throw new RangeError(`layout: self-similarities of different grids (${a.length} vs ${b.length} pairs)`);
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}
