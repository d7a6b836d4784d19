/**
 * Scores generated images with the towers users already have (clip-towers.ts) and, when given, CSD (csd.ts):
 *   clipT   cos(image_embeds(image), text_embeds(prompt))                      text-image alignment
 *   style   cos(image_embeds(image), image_embeds(reference)) per reference    style similarity (and CSD's, if loaded)
 *   layout  mean layout agreement (layout.ts) with the images of the same layout group made with another style
 * Each prompt and each reference is embedded once, however many images use it.
 */
import type { RgbaImage } from '../image/rgba';
import type { ClipTowers } from './clip-towers';
import { layoutSimilarity, selfSimilarity } from './layout';

/** A second style embedding (CSD): one vector per image, compared by cosine. */
export interface StyleEmbedder {
  embed(image: RgbaImage): Promise<Float32Array>;
  release(): Promise<void>;
}

export interface ScoreInput {
  readonly id: string;
  readonly image: RgbaImage;
  readonly prompt: string;
  /** The references (keys of the reference map) this image is compared with. */
  readonly references: readonly string[];
  /** Images of one layout group made with different `style`s are compared for layout (same prompt and seed). */
  readonly layoutGroup: string;
  readonly style: string;
}

export interface StyleScore {
  readonly reference: string;
  readonly clip: number;
  /** Only when a CSD model was loaded. */
  readonly csd?: number;
}

export interface ImageScores {
  readonly id: string;
  readonly prompt: string;
  readonly clipT: number;
  readonly style: readonly StyleScore[];
  /** null when the image's group has no image made with another style. */
  readonly layout: number | null;
  /** How many images the layout score averages over. */
  readonly layoutPairs: number;
}

export type ScoreProgress = (done: number, total: number, label: string) => void;

/** Cosine similarity of two embeddings, in float64; 0 when either is the zero vector. */
export function cosine(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`cosine of vectors of different widths (${a.length} vs ${b.length})`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

export async function scoreImages(
  towers: ClipTowers,
  csd: StyleEmbedder | null,
  references: ReadonlyMap<string, RgbaImage>,
  inputs: readonly ScoreInput[],
  onProgress: ScoreProgress = () => undefined,
): Promise<ImageScores[]> {
  for (const input of inputs) {
    for (const r of input.references) if (!references.has(r)) throw new RangeError(`${input.id}: unknown style reference ${JSON.stringify(r)}`);
  }
  const prompts = [...new Set(inputs.map((i) => i.prompt))];
  const total = prompts.length + references.size + inputs.length;
  let done = 0;
  const step = (label: string) => onProgress(++done, total, label);

  const text = new Map<string, Float32Array>();
  for (const p of prompts) {
    text.set(p, await towers.embedText(p));
    step('prompts');
  }
  const refClip = new Map<string, Float32Array>();
  const refCsd = new Map<string, Float32Array>();
  for (const [name, image] of references) {
    refClip.set(name, (await towers.embedImage(image)).embeds);
    if (csd) refCsd.set(name, await csd.embed(image));
    step('style references');
  }
  const features: { clip: Float32Array; csd: Float32Array | null; structure: Float64Array }[] = [];
  for (const input of inputs) {
    const f = await towers.embedImage(input.image);
    features.push({ clip: f.embeds, csd: csd ? await csd.embed(input.image) : null, structure: selfSimilarity(f.patchTokens) });
    step('images');
  }
  return inputs.map((input, i) => {
    const own = features[i]!;
    let sum = 0;
    let pairs = 0;
    inputs.forEach((other, j) => {
      if (j === i || other.layoutGroup !== input.layoutGroup || other.style === input.style) return;
      sum += layoutSimilarity(own.structure, features[j]!.structure);
      pairs++;
    });
    return {
      id: input.id,
      prompt: input.prompt,
      clipT: cosine(own.clip, text.get(input.prompt)!),
      style: input.references.map((reference) => ({
        reference,
        clip: cosine(own.clip, refClip.get(reference)!),
        ...(own.csd ? { csd: cosine(own.csd, refCsd.get(reference)!) } : {}),
      })),
      layout: pairs > 0 ? sum / pairs : null,
      layoutPairs: pairs,
    };
  });
}
