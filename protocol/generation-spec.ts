/**
 * One generation request, the same everywhere: the panel sends it (images as upload references), the daemon checks
 * it with this schema, the CLI maps its flags onto it (images as file paths), and the pipeline runs it (images as
 * pixels). One set of limits and defaults, one naming of schedulers; `seed: null` asks for a random seed, which the
 * daemon or the CLI draws before the pipeline sees the request.
 */
import { z } from 'zod';
import { PROTOCOL_MAX, SIZE_STRIDE } from './limits';

/**
 * Elements of a reference that style-based CFG can leave out (`drop`): the negative style image is derived from the
 * reference itself so that it carries that element and little else (companion/image/negative-presets.ts).
 */
export const DROP_ELEMENTS = ['colour', 'texture', 'brushwork', 'lighting'] as const;
export type DropElement = (typeof DROP_ELEMENTS)[number];
/** `drop`: one element, or several (2.1) whose negative carries all of them. */
export type DropSpec = DropElement | DropElement[];
export const DropSpecSchema = z.union([
  z.enum(DROP_ELEMENTS),
  z.array(z.enum(DROP_ELEMENTS)).min(1).max(DROP_ELEMENTS.length).refine((a) => new Set(a).size === a.length, 'name each element once'),
]);

/** The elements of a `drop`, each once, in DROP_ELEMENTS order (so ['lighting', 'colour'] and ['colour', 'lighting'] are one negative). */
export function dropElements(drop: DropSpec): DropElement[] {
  const given = typeof drop === 'string' ? [drop] : drop;
  return DROP_ELEMENTS.filter((e) => given.includes(e));
}

/** Scheduler names as the engine knows them; absent in a spec = the model folder's own scheduler. */
export const SCHEDULER_NAMES = ['euler', 'euler-a', 'dpmpp-2m', 'dpmpp-2m-karras', 'ddim'] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

/** The protocol's absolute bounds (limits.ts) plus the method's own; a daemon may announce tighter ones. */
export const SPEC_LIMITS = Object.freeze({
  promptLength: PROTOCOL_MAX.promptLength,
  steps: PROTOCOL_MAX.steps,
  variations: PROTOCOL_MAX.variations,
  /** Output sides: multiples of the engine's stride (SDXL: the VAE's 8 × the UNet's 4), at most `maxSide`. */
  sizeStride: SIZE_STRIDE,
  maxSide: PROTOCOL_MAX.imageSide,
  guidance: 30,
  scale: 2,
  /** Style references in one job (the style plus extraStyles), and negative style images. */
  references: 5,
  /** Seeds: variation k uses seed + k, which must stay an exact JavaScript integer. */
  maxSeed: Number.MAX_SAFE_INTEGER - PROTOCOL_MAX.variations,
});

export const SPEC_DEFAULTS = Object.freeze({
  steps: 50,
  guidance: 5, // the official scripts; the demo uses 7
  variations: 1,
  width: 1024,
  height: 1024,
  crossModalAdain: true,
  adainStrength: 1,
  scale: 1, // the reference keeps every processor at 1.0
  /** teacherSteps when not given: 2/5 of the steps (StyleStudio's 20 of 50), at least one. */
  teacherFraction: 0.4,
  styleResize: 'none' as const,
  /** img2img: how much of the init image is re-noised and denoised again (diffusers' img2img `strength`). */
  denoise: 0.6,
});

/**
 * The steps an img2img job runs of a `steps`-step schedule: diffusers' get_timesteps, int(steps · denoise) (the float
 * product truncated, as Python's int() does), at most `steps`. The job starts at schedule index steps − that.
 */
export function denoiseSteps(steps: number, denoise: number): number {
  return Math.min(Math.floor(steps * denoise), steps);
}

/** The teacher's default length for `steps` (2/5 of them, at least one step). */
export function defaultTeacherSteps(steps: number): number {
  return Math.max(1, Math.round(steps * SPEC_DEFAULTS.teacherFraction));
}

/** Which cross-attention layers receive style tokens. */
export const StyleLayersSpec = z.discriminatedUnion('kind', [
  /** CSGO: every attn2 of up_blocks; h94 ip-adapter_sdxl: up_blocks.0.attentions.1 (InstantStyle). */
  z.object({ kind: z.literal('adapter-default') }),
  /** Every attn2: diffusers' plain IP-Adapter. */
  z.object({ kind: z.literal('all') }),
  /** Module path prefixes, e.g. ["up_blocks"], ["up_blocks.0.attentions.1"]. */
  z.object({
    kind: z.literal('prefixes'),
    prefixes: z.array(z.string().regex(/^(down_blocks|mid_block|up_blocks)(\.\d+)?(\.attentions\.\d+)?(\.transformer_blocks\.\d+)?$/,
      'a UNet block path such as up_blocks or up_blocks.0.attentions.1')).min(1).max(64),
  }),
]);
export type StyleLayersSpec = z.infer<typeof StyleLayersSpec>;

/** [lowest, highest, integer] of every numeric field: the schema and its messages both read this table. */
export const SPEC_RANGES = Object.freeze({
  steps: [1, SPEC_LIMITS.steps, true],
  guidance: [0, SPEC_LIMITS.guidance, false],
  seed: [0, SPEC_LIMITS.maxSeed, true],
  variations: [1, SPEC_LIMITS.variations, true],
  width: [SPEC_LIMITS.sizeStride, SPEC_LIMITS.maxSide, true],
  height: [SPEC_LIMITS.sizeStride, SPEC_LIMITS.maxSide, true],
  adainStrength: [0, 1, false],
  scale: [0, SPEC_LIMITS.scale, false],
  strength: [0, 1, false],
  denoise: [0, 1, false],
  styleWeight: [0, 1, false],
  teacherSteps: [0, SPEC_LIMITS.steps, true],
} as const satisfies Record<string, readonly [number, number, boolean]>);

function ranged(field: keyof typeof SPEC_RANGES) {
  const [lo, hi, integer] = SPEC_RANGES[field];
  return (integer ? z.number().int() : z.number()).min(lo).max(hi);
}

/**
 * One style strength in [0, 1] with the same meaning for every adapter (CSGO, IP-Adapter), mapped onto the adapter
 * scale and the AdaIN blend α (PROVISIONAL curve, docs/PROTOCOL.md; `stylestudio sweep` over strength is how it is
 * to be chosen on real weights):
 *   scale = 1.25·s for s ≤ 0.8, then 1 + 2.5·(s − 0.8) up to 1.5 at s = 1   (style tokens fade in, then over-drive)
 *   α     = clamp((s − 0.3) / 0.5, 0, 1)                                       (AdaIN from 0.3, full from 0.8)
 * so s = 0.8, the panel's default, is exactly today's defaults (scale 1, α 1) and s = 0 is no style at all.
 */
export const STRENGTH_DEFAULT = 0.8;
export function styleControlsForStrength(strength: number): { readonly scale: number; readonly adainStrength: number } {
  const s = Math.min(1, Math.max(0, strength));
  const scale = s <= STRENGTH_DEFAULT ? s / STRENGTH_DEFAULT : 1 + 2.5 * (s - STRENGTH_DEFAULT);
  const adainStrength = Math.min(1, Math.max(0, (s - 0.3) / (STRENGTH_DEFAULT - 0.3)));
  return { scale, adainStrength };
}

/** "width 100 is not a multiple of 32; try 96 or 128", or null when `value` is on the stride. */
export function offStrideMessage(name: string, value: number, stride: number = SPEC_LIMITS.sizeStride): string | null {
  if (value % stride === 0) return null;
  const lo = Math.max(stride, Math.floor(value / stride) * stride);
  return `${name} ${value} is not a multiple of ${stride}; try ${lo} or ${lo + stride}`;
}

const side = (name: 'width' | 'height') => ranged(name).superRefine((n, ctx) => {
  const message = offStrideMessage(name, n);
  if (message !== null) ctx.addIssue({ code: 'custom', message });
});

/**
 * The schema of a spec whose images are `image` (upload references on the wire, file paths in the CLI, pixels in the
 * pipeline). Missing fields take SPEC_DEFAULTS; `teacherSteps` absent = the default length with a style, off without.
 */
export function generationSpecSchema<I extends z.ZodType>(image: I) {
  // strict: a field this version does not know (an older panel's `teacher`) is refused, never silently dropped
  return z.strictObject({
    prompt: z.string().min(1).max(SPEC_LIMITS.promptLength),
    /** Absent: zero negative text embeddings (diffusers' force_zeros_for_empty_prompt), or "" with AdaIN. */
    negativePrompt: z.string().max(SPEC_LIMITS.promptLength).optional(),
    /** Absent: plain SDXL text-to-image. */
    style: image.optional(),
    /**
     * Several references (2.1): the style's weight and up to four more {image, weight}. Their style tokens are
     * concatenated as diffusers does for several images of one IP-Adapter, and a weight w counts the image w times
     * (its tokens' attention logits get + ln w; docs/PROTOCOL.md). Weights are relative; one reference ignores its own.
     */
    styleWeight: ranged('styleWeight').optional(),
    extraStyles: z.array(z.strictObject({ image, weight: ranged('styleWeight').default(1) })).min(1).max(SPEC_LIMITS.references - 1).optional(),
    /** Style-based CFG's negative: an image, or one derived from each style image (`drop`, our extension). */
    negativeStyle: image.optional(),
    /** More negative style images (2.1): the unconditional side concatenates them like the references. */
    extraNegativeStyles: z.array(image).min(1).max(SPEC_LIMITS.references - 1).optional(),
    drop: DropSpecSchema.optional(),
    /** img2img: the image to restyle (a layer), resized to the output size; absent: text-to-image from noise. */
    init: image.optional(),
    /** img2img only: 1 re-noises the init image completely, small values keep more of it. Absent: SPEC_DEFAULTS.denoise. */
    denoise: ranged('denoise').optional(),
    /**
     * Inpainting (2.1, needs `init`): white (≥ 50 %) where the image is redrawn, black where the init image stays;
     * diffusers' SDXL inpainting for a 4-channel UNet (docs/PROTOCOL.md).
     */
    mask: image.optional(),
    steps: ranged('steps').default(SPEC_DEFAULTS.steps),
    guidance: ranged('guidance').default(SPEC_DEFAULTS.guidance),
    /** null: a random seed, drawn by the daemon or the CLI and reported with each result. */
    seed: ranged('seed').nullable().default(null),
    /** Variation k uses seed + k. */
    variations: ranged('variations').default(SPEC_DEFAULTS.variations),
    width: side('width').default(SPEC_DEFAULTS.width),
    height: side('height').default(SPEC_DEFAULTS.height),
    crossModalAdain: z.boolean().default(SPEC_DEFAULTS.crossModalAdain),
    /** α in h = (1−α)(c + scale·s) + α·AdaIN(c, s); 1 is the paper. Absent: from `strength`, else 1. */
    adainStrength: ranged('adainStrength').optional(),
    /** IP-Adapter scale of the weighted sum (AdaIN off or α < 1). Absent: from `strength`, else 1. */
    scale: ranged('scale').optional(),
    /** One style strength that sets scale and α together (styleControlsForStrength); not with either of them. */
    strength: ranged('strength').optional(),
    styleLayers: StyleLayersSpec.default({ kind: 'adapter-default' }),
    /** none: CLIP preprocessing only; square512: the official CLI's squash to 512². */
    styleResize: z.enum(['none', 'square512']).default(SPEC_DEFAULTS.styleResize),
    /** Steps with the teacher (1-based, inclusive); null: off; absent: 2/5 of the steps. Always off without a style. */
    teacherSteps: ranged('teacherSteps').nullable().optional(),
    scheduler: z.enum(SCHEDULER_NAMES).optional(),
  })
    .superRefine((s, ctx) => {
      const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
      if (s.negativeStyle !== undefined && s.drop !== undefined) issue('drop', 'give either a negative style image or a drop preset, not both');
      if ((s.extraStyles !== undefined || s.styleWeight !== undefined) && s.style === undefined) issue('extraStyles', 'more style references (or a style weight) need a style image');
      if (s.extraNegativeStyles !== undefined && s.negativeStyle === undefined) issue('extraNegativeStyles', 'more negative style images need a negative style image');
      if (s.style !== undefined && (s.styleWeight ?? 1) === 0 && (s.extraStyles ?? []).every((e) => e.weight === 0)) {
        issue('styleWeight', 'at least one style reference needs a weight above 0');
      }
      if ((s.negativeStyle !== undefined || s.drop !== undefined) && s.style === undefined) issue('negativeStyle', 'a negative style (or drop preset) needs a style image');
      if (typeof s.teacherSteps === 'number' && s.teacherSteps > s.steps) issue('teacherSteps', `teacherSteps must be an integer in [0, ${s.steps}], got ${s.teacherSteps}`);
      if (s.seed !== null && s.seed + s.variations - 1 > SPEC_LIMITS.maxSeed) issue('seed', `seed + variations exceeds ${SPEC_LIMITS.maxSeed}`);
      if (s.denoise !== undefined && s.init === undefined) issue('denoise', 'denoise needs an init image (img2img)');
      if (s.mask !== undefined && s.init === undefined) issue('mask', 'an inpainting mask needs an init image to inpaint');
      if (s.init !== undefined && denoiseSteps(s.steps, s.denoise ?? SPEC_DEFAULTS.denoise) < 1) {
        issue('denoise', `denoise ${s.denoise ?? SPEC_DEFAULTS.denoise} of ${s.steps} steps runs no step: raise denoise or steps`);
      }
      if (s.strength !== undefined && (s.scale !== undefined || s.adainStrength !== undefined)) {
        issue('strength', 'give strength, or scale and adainStrength, not both');
      }
    })
    .transform(({ strength, denoise, ...s }) => ({
      ...s,
      ...(s.init !== undefined ? { denoise: denoise ?? SPEC_DEFAULTS.denoise } : {}),
      ...(strength !== undefined ? styleControlsForStrength(strength)
        : { scale: s.scale ?? SPEC_DEFAULTS.scale, adainStrength: s.adainStrength ?? SPEC_DEFAULTS.adainStrength }),
      // the teacher shares the style branch's attention: without a style it has nothing to do (a panel may keep it on)
      // img2img: counted from the first step that runs, like the student (the default: 2/5 of the steps that run)
      teacherSteps: s.style === undefined ? null : s.teacherSteps !== undefined ? s.teacherSteps
        : defaultTeacherSteps(s.init !== undefined ? denoiseSteps(s.steps, denoise ?? SPEC_DEFAULTS.denoise) : s.steps),
    }));
}

/** A checked spec with images of type I (defaults filled in, teacherSteps resolved). */
export type GenerationSpec<I> = Omit<z.output<ReturnType<typeof generationSpecSchema>>, 'style' | 'negativeStyle' | 'init' | 'mask' | 'extraStyles' | 'extraNegativeStyles'> & {
  readonly style?: I;
  readonly negativeStyle?: I;
  readonly init?: I;
  readonly mask?: I;
  readonly extraStyles?: readonly { readonly image: I; readonly weight: number }[];
  readonly extraNegativeStyles?: readonly I[];
};

/** A spec with its seed drawn: what the pipeline runs. */
export type ResolvedSpec<I> = Omit<GenerationSpec<I>, 'seed'> & { readonly seed: number };

/**
 * The first problem of a failed parse as one line naming the field: ranges as "steps must be an integer in [1, 200],
 * got 0" (`input` is what was parsed, for the value), everything else with zod's or the rule's own message.
 */
export function specIssue(error: z.ZodError, input?: unknown): { readonly field: string; readonly message: string } {
  const issue = error.issues[0]!;
  const field = issue.path.join('.');
  const range = (SPEC_RANGES as Record<string, readonly [number, number, boolean] | undefined>)[field];
  if (range !== undefined && (issue.code === 'too_small' || issue.code === 'too_big' || issue.code === 'invalid_type')) {
    const value = typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[field] : undefined;
    return { field, message: `${field} must be ${range[2] ? 'an integer' : 'a number'} in [${range[0]}, ${range[1]}], got ${JSON.stringify(value)}` };
  }
  return { field, message: issue.code === 'custom' ? issue.message : `${field}: ${issue.message}` };
}
