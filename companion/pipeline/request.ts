/**
 * What one StyleStudio generation needs, with the official defaults (METHOD.md, METHOD-DETAILS.md §1).
 * The CLI and the server both build one of these; the pipeline validates it once, at the edge.
 */
import type { Float32Nd } from './npy';

/** 8-bit straight-alpha sRGB pixels, row-major. */
export interface RgbaPixels {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Which cross-attention layers receive style tokens. */
export type StyleLayers =
  | { readonly kind: 'adapter-default' }   // CSGO: all up_blocks; h94 ip-adapter_sdxl: up_blocks.0.attentions.1
  | { readonly kind: 'all' }               // every attn2, diffusers' plain IP-Adapter
  | { readonly kind: 'prefixes'; readonly prefixes: readonly string[] }; // e.g. ["up_blocks"], ["up_blocks.0.attentions.1"]

export type DropPreset = 'colour' | 'texture';
export type StyleResize = 'none' | 'square512';

export interface GenerateRequest {
  readonly prompt: string;
  /** undefined = no negative prompt (zeros under force_zeros_for_empty_prompt, unless AdaIN needs text). */
  readonly negativePrompt?: string;
  readonly style?: RgbaPixels;
  readonly negativeStyle?: RgbaPixels;
  readonly drop?: DropPreset;
  readonly steps: number;
  readonly guidance: number;
  /** Seed of the first variation; variation k uses seed + k. */
  readonly seed: number;
  readonly variations: number;
  readonly width: number;
  readonly height: number;
  readonly crossModalAdain: boolean;
  readonly adainStrength: number;
  readonly scale: number;
  readonly styleLayers: StyleLayers;
  readonly styleResize: StyleResize;
  /** 1-based inclusive count of teacher steps; null switches the teacher off. */
  readonly teacherSteps: number | null;
  /** Scheduler name; undefined = the model folder's scheduler_config.json. */
  readonly scheduler?: string;
  /** Unscaled starting noise [1, 4, H/8, W/8] (diffusers' `latents=`); overrides the seed's noise. */
  readonly latents?: Float32Nd;
}

export const DEFAULTS = Object.freeze({
  steps: 50,
  guidance: 5,          // the official scripts; the demo uses 7
  variations: 1,
  width: 1024,
  height: 1024,
  crossModalAdain: true,
  adainStrength: 1,
  scale: 1,             // the reference keeps every processor at 1.0
  teacherFraction: 0.4, // end_fusion 20 of 50 steps
  styleResize: 'none' as StyleResize,
});

export const LIMITS = Object.freeze({
  maxSteps: 200,
  maxVariations: 4,
  maxSide: 2048,
  maxPromptChars: 2000,
  maxSeed: Number.MAX_SAFE_INTEGER,
});

/** The teacher's default length: 2/5 of the steps (20 of 50), at least one step. */
export function defaultTeacherSteps(steps: number): number {
  return Math.max(1, Math.round(steps * DEFAULTS.teacherFraction));
}

/** A uniformly random seed in torch's usual 32-bit range. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 0x1_0000_0000);
}

/** A request's settings: everything but pixels and latents (what a CLI or a protocol message states). */
export type RequestSettings = Omit<GenerateRequest, 'style' | 'negativeStyle' | 'latents'>;

/** Checks a whole request, pixels and latents included; throws a RangeError naming the field. */
export function validateRequest(r: GenerateRequest): void {
  validateSettings(r, { style: r.style !== undefined, negativeStyle: r.negativeStyle !== undefined });
}

/** Checks ranges that depend neither on the model nor on pixels; throws a RangeError naming the field. */
export function validateSettings(r: RequestSettings, has: { style: boolean; negativeStyle: boolean }): void {
  const int = (name: string, v: number, lo: number, hi: number): void => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${name} must be an integer in [${lo}, ${hi}], got ${v}`);
  };
  const num = (name: string, v: number, lo: number, hi: number): void => {
    if (!Number.isFinite(v) || v < lo || v > hi) throw new RangeError(`${name} must be a number in [${lo}, ${hi}], got ${v}`);
  };
  if (r.prompt.length > LIMITS.maxPromptChars) throw new RangeError(`prompt is longer than ${LIMITS.maxPromptChars} characters`);
  if ((r.negativePrompt?.length ?? 0) > LIMITS.maxPromptChars) {
    throw new RangeError(`negative prompt is longer than ${LIMITS.maxPromptChars} characters`);
  }
  int('steps', r.steps, 1, LIMITS.maxSteps);
  num('guidance', r.guidance, 0, 50);
  int('seed', r.seed, 0, LIMITS.maxSeed);
  int('variations', r.variations, 1, LIMITS.maxVariations);
  if (r.seed + r.variations - 1 > LIMITS.maxSeed) throw new RangeError(`seed ${r.seed} + variations exceeds ${LIMITS.maxSeed}`);
  num('adainStrength', r.adainStrength, 0, 1);
  num('scale', r.scale, 0, 10);
  if (r.teacherSteps !== null) int('teacherSteps', r.teacherSteps, 0, r.steps);
  if (has.negativeStyle && r.drop !== undefined) {
    throw new RangeError('give either a negative style image or a drop preset, not both');
  }
  if ((has.negativeStyle || r.drop !== undefined) && !has.style) {
    throw new RangeError('a negative style (or drop preset) needs a style image');
  }
  if (r.teacherSteps !== null && r.teacherSteps > 0 && !has.style) {
    throw new RangeError('the teacher needs a style image (without one there is nothing to stabilise)');
  }
}
