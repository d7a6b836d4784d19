/**
 * A style preset: the references, weights, style elements, adapter and settings of a series, saved under a name so
 * new prompts get the same look. The companion keeps each preset as a folder (`preset.json` + PNG copies of its
 * images); the panel and the CLI apply it. The prompt is not part of it (an optional prefix/suffix is).
 */
import { z } from 'zod';
import { DropSpecSchema, type DropSpec, generationSpecSchema, SCHEDULER_NAMES, SPEC_LIMITS, SPEC_RANGES, StyleLayersSpec } from './generation-spec';
import { PROTOCOL_MAX } from './limits';

/** Version of `preset.json`; a file of another version is refused, naming both. */
export const PRESET_VERSION = 1;
/** The engine takes one style image today; the list shape is kept for several references later. */
export const MAX_PRESET_REFERENCES = SPEC_LIMITS.references;

/**
 * A preset name is also its folder's name: letters, digits, space, `_ . -`, 1–64 characters, starting with a letter
 * or digit and not ending in a space or dot (Windows drops those), and none of Windows' device names.
 */
export const PRESET_NAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9 _.-]{0,62}[A-Za-z0-9_-])?$/;
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i;

/** Why `name` cannot name a preset, or null when it can. */
export function presetNameProblem(name: string): string | null {
  if (!PRESET_NAME_PATTERN.test(name)) {
    return `preset name ${JSON.stringify(name.slice(0, 80))} must be 1–64 letters, digits, spaces or _ . -, starting with a letter or digit and not ending in a space or dot`;
  }
  if (WINDOWS_DEVICE.test(name)) return `preset name ${JSON.stringify(name)} is reserved on Windows`;
  return null;
}

export const PresetName = z.string().superRefine((name, ctx) => {
  const problem = presetNameProblem(name);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
});

function ranged(field: keyof typeof SPEC_RANGES) {
  const [lo, hi, integer] = SPEC_RANGES[field];
  return (integer ? z.number().int() : z.number()).min(lo).max(hi);
}

/** Every prompt of the series uses `seed` (a consistent look), or each draws its own. */
export const SeedPolicy = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('fixed'), seed: ranged('seed') }),
  z.strictObject({ kind: z.literal('random') }),
]);
export type SeedPolicy = z.infer<typeof SeedPolicy>;

/** The generation settings a preset fixes: GenerationSpec fields, prompt and images excepted. */
export const PresetSettings = z.strictObject({
  promptPrefix: z.string().max(500).optional(),
  promptSuffix: z.string().max(500).optional(),
  negativePrompt: z.string().max(2000).optional(),
  crossModalAdain: z.boolean(),
  /** One strength, or scale and adainStrength (as in the spec, not both). */
  strength: ranged('strength').optional(),
  scale: ranged('scale').optional(),
  adainStrength: ranged('adainStrength').optional(),
  styleLayers: StyleLayersSpec.optional(),
  styleResize: z.enum(['none', 'square512']).optional(),
  /** null: no teacher; absent: 2/5 of the steps. */
  teacherSteps: ranged('teacherSteps').nullable().optional(),
  guidance: ranged('guidance'),
  steps: ranged('steps'),
  variations: ranged('variations').optional(),
  width: ranged('width'),
  height: ranged('height'),
  scheduler: z.enum(SCHEDULER_NAMES).optional(),
});
export type PresetSettings = z.infer<typeof PresetSettings>;

/** A preset's settings as GenerationSpec fields for `prompt` (images left to the caller). */
export function presetSpecFields(settings: PresetSettings, seed: SeedPolicy, prompt: string) {
  const { promptPrefix, promptSuffix, ...rest } = settings;
  return { ...rest, prompt: `${promptPrefix ?? ''}${prompt}${promptSuffix ?? ''}`, seed: seed.kind === 'fixed' ? seed.seed : null };
}

/**
 * The settings must make a valid spec together (strength with scale, off-stride sizes, teacherSteps > steps): checked
 * by the one GenerationSpec schema with a stand-in prompt and style.
 */
function checkAsSpec(settings: PresetSettings, seed: SeedPolicy, ctx: z.RefinementCtx, path: string[]): void {
  const probe = generationSpecSchema(z.string()).safeParse({ ...presetSpecFields(settings, seed, 'x'), style: 'reference' });
  if (!probe.success) {
    const issue = probe.error.issues[0]!;
    ctx.addIssue({ code: 'custom', path: [...path, ...issue.path.map(String)], message: issue.message });
  }
}

/** What the negative side of style-based CFG is: nothing, a drop preset, or a negative style image. */
export function elementsSchema<I extends z.ZodType>(image: I) {
  return z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('none') }),
    z.strictObject({ kind: z.literal('drop'), preset: DropSpecSchema }),
    z.strictObject({ kind: z.literal('image'), image }),
  ]);
}

/** A reference image and its weight among the references (1 while there is only one). */
export function referenceSchema<I extends z.ZodType>(image: I) {
  return z.strictObject({ image, weight: z.number().min(0).max(1) });
}

/** A PNG inside the preset's folder: `reference-0.png`, `negative.png`. */
const PresetImageFile = z.string().regex(/^[a-z0-9-]{1,40}\.png$/, 'an image file name inside the preset folder, such as reference-0.png');

/** `preset.json`. */
export const StylePreset = z.strictObject({
  version: z.literal(PRESET_VERSION),
  name: PresetName,
  createdAt: z.string().max(40),
  references: z.array(referenceSchema(PresetImageFile)).min(1).max(16),
  elements: elementsSchema(PresetImageFile),
  /** What the preset was made with: the daemon's model set id, the adapter's file name. Checked when applied. */
  madeWith: z.strictObject({ modelSet: z.string().max(PROTOCOL_MAX.modelSetIdLength).optional(), adapter: z.string().max(255).optional() }),
  settings: PresetSettings,
  seed: SeedPolicy,
}).superRefine((p, ctx) => checkAsSpec(p.settings, p.seed, ctx, ['settings']));
export type StylePreset = z.infer<typeof StylePreset>;

/** Why the engine cannot apply these references, or null: at most MAX_PRESET_REFERENCES, one weight above 0. */
export function referencesProblem(references: readonly { readonly weight: number }[]): string | null {
  if (references.length > MAX_PRESET_REFERENCES) {
    return `this preset has ${references.length} reference images; StyleStudio takes at most ${MAX_PRESET_REFERENCES}`;
  }
  if (references.every((r) => r.weight === 0)) return 'at least one reference image needs a weight above 0';
  return null;
}

/**
 * A preset's content with its images as `I`: pixels where the panel saves one and where the daemon stores it (the wire
 * form, with upload references, is presetContentSchema's).
 */
export interface PresetContentOf<I> {
  readonly references: readonly { readonly image: I; readonly weight: number }[];
  readonly elements: { readonly kind: 'none' } | { readonly kind: 'drop'; readonly preset: DropSpec } | { readonly kind: 'image'; readonly image: I };
  readonly settings: PresetSettings;
  readonly seed: SeedPolicy;
}

/** What the panel sends in `preset.save`: the preset's content with its images as upload references. */
export function presetContentSchema<I extends z.ZodType>(image: I) {
  return z.strictObject({
    references: z.array(referenceSchema(image)).min(1).max(16),
    elements: elementsSchema(image),
    settings: PresetSettings,
    seed: SeedPolicy,
  }).superRefine((p, ctx) => checkAsSpec(p.settings, p.seed, ctx, ['settings']));
}
