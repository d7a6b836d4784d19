/**
 * The pipeline's view of the GenerationSpec (protocol/generation-spec.ts): pixels for images, a drawn seed, optional
 * explicit latents. Limits and defaults are the spec's; the pipeline validates with the spec's schema, at the edge.
 */
import { z } from 'zod';
import {
  defaultTeacherSteps, generationSpecSchema, type ResolvedSpec, SPEC_DEFAULTS, SPEC_LIMITS, specIssue, type StyleLayersSpec,
} from '../../protocol';
import type { RgbaImage } from '../image/rgba';
import { EngineError } from '../runtime/errors';
import type { Float32Nd } from './npy';

/** Which cross-attention layers receive style tokens (the GenerationSpec's). */
export type StyleLayers = StyleLayersSpec;

export type StyleResize = 'none' | 'square512';

/**
 * The pipeline's request: the GenerationSpec with pixels and a drawn seed. The scheduler is any name the schedulers
 * know (checked by the pipeline against the folder's config); `latents` replaces the seed's noise.
 */
export type GenerateRequest = Omit<ResolvedSpec<RgbaImage>, 'scheduler'> & {
  /** Scheduler name; undefined = the model folder's scheduler_config.json. */
  readonly scheduler?: string;
  /** Unscaled starting noise [1, 4, H/8, W/8] (diffusers' `latents=`); overrides the seed's noise. */
  readonly latents?: Float32Nd;
};

export const DEFAULTS = SPEC_DEFAULTS;

export const LIMITS = Object.freeze({
  maxSteps: SPEC_LIMITS.steps,
  maxVariations: SPEC_LIMITS.variations,
  maxSide: SPEC_LIMITS.maxSide,
  maxPromptChars: SPEC_LIMITS.promptLength,
  maxSeed: SPEC_LIMITS.maxSeed,
});

export { defaultTeacherSteps };

/** A uniformly random seed in torch's usual 32-bit range. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 0x1_0000_0000);
}

/** A request's settings: everything but pixels and latents (what a CLI or a protocol message states). */
export type RequestSettings = Omit<GenerateRequest, 'style' | 'negativeStyle' | 'latents'>;

const pixelsSchema = z.custom<RgbaImage>((v) => typeof v === 'object' && v !== null && 'data' in v, 'RGBA pixels');
const requestSchema = generationSpecSchema(pixelsSchema);

/**
 * Checks a whole request against the GenerationSpec schema (the limits the protocol and the CLI use); throws an
 * EngineError naming the field: BAD_SIZE for the output size, BAD_REQUEST for the rest. The scheduler name is
 * checked by the pipeline against the schedulers it has.
 */
export function validateRequest(r: GenerateRequest & { readonly seeds?: readonly number[]; readonly keepTeacherRows?: boolean }): void {
  // the pipeline's own fields are not the spec's (which refuses unknown keys)
  const { scheduler: _scheduler, latents: _latents, seeds, keepTeacherRows: _keep, ...spec } = r;
  for (const seed of seeds ?? []) {
    if (!Number.isInteger(seed) || seed < 0 || seed > SPEC_LIMITS.maxSeed) {
      throw new EngineError('BAD_REQUEST', `seeds must be integers in [0, ${SPEC_LIMITS.maxSeed}], got ${seed}`);
    }
  }
  const parsed = requestSchema.safeParse(spec);
  if (!parsed.success) {
    const { field, message } = specIssue(parsed.error, spec);
    throw new EngineError(field === 'width' || field === 'height' ? 'BAD_SIZE' : 'BAD_REQUEST', message);
  }
}
