/**
 * Presets on the command line: a preset's values as `generate`'s flags (under the flags given, which win), and the
 * flags as a preset to save. Going through the flags means `--style-preset P` runs exactly what the equivalent
 * explicit flags run.
 */
import * as path from 'node:path';
import { dropElements, SCHEDULER_NAMES, SPEC_DEFAULTS, type PresetSettings, type SchedulerName, type StylePreset } from '../../protocol';
import { readImageFile } from '../image/rgba';
import { checkApplicable, type LoadedPreset, type NewPreset } from '../presets/store';
import { decimal, type GenerateCliOptions, integer, oneOf, parseDrop, parseStyleLayers, UsageError } from './generate-options';

/** generate's flags plus what only a preset carries: text around the prompt. */
export interface PresetCliOptions extends GenerateCliOptions {
  promptPrefix?: string;
  promptSuffix?: string;
}

function styleLayersFlag(layers: PresetSettings['styleLayers']): string | undefined {
  if (layers === undefined || layers.kind === 'adapter-default') return undefined;
  return layers.kind === 'all' ? 'all' : layers.prefixes.join(',');
}

const text = (v: number | undefined): string | undefined => (v === undefined ? undefined : String(v));

/**
 * The flags `o` with the preset's values filled in where no flag was given. A flag given for one side of a pair
 * replaces the preset's whole pair: --strength vs --scale/--adain-strength, --negative-style vs --drop, --no-teacher
 * vs --teacher-steps.
 */
export function withPreset(o: PresetCliOptions, loaded: LoadedPreset): PresetCliOptions {
  const { preset, folder } = loaded;
  checkApplicable(preset);
  const s = preset.settings;
  const given = (...keys: (keyof GenerateCliOptions)[]) => keys.some((k) => o[k] !== undefined);
  const elements = preset.elements;
  const references = preset.references;
  const fromPreset: PresetCliOptions = {
    // the preset's references replace any --style given only as a whole (their weights belong to them)
    ...(given('style') ? {} : {
      style: references.map((r) => path.join(folder, r.image)),
      ...(references.length > 1 ? { styleWeights: references.map((r) => String(r.weight)).join(',') } : {}),
    }),
    ...(given('negativeStyle', 'drop') ? {} : elements.kind === 'image' ? { negativeStyle: path.join(folder, elements.image) }
      : elements.kind === 'drop' ? { drop: dropElements(elements.preset).join(',') } : {}),
    ...(given('strength', 'scale', 'adainStrength') ? {} : { strength: text(s.strength), scale: text(s.scale), adainStrength: text(s.adainStrength) }),
    ...(s.crossModalAdain ? {} : { adain: false }),
    ...(o.teacher === false || given('teacherSteps') ? {} : s.teacherSteps === null ? { teacher: false } : { teacherSteps: text(s.teacherSteps) }),
    steps: text(s.steps), guidance: text(s.guidance), width: text(s.width), height: text(s.height), variations: text(s.variations),
    scheduler: s.scheduler, styleResize: s.styleResize, styleLayers: styleLayersFlag(s.styleLayers), negativePrompt: s.negativePrompt,
    seed: preset.seed.kind === 'fixed' ? String(preset.seed.seed) : undefined,
    promptPrefix: s.promptPrefix, promptSuffix: s.promptSuffix,
  };
  const defined = <T extends object>(x: T): Partial<T> => Object.fromEntries(Object.entries(x).filter(([, v]) => v !== undefined)) as Partial<T>;
  // commander sets `teacher: true` unless --no-teacher is given: only `false` is the user's choice
  const { teacher, ...flags } = o;
  return { ...defined(fromPreset), ...defined(flags), ...(teacher === false ? { teacher: false } : {}) };
}

/** The prompt with a preset's prefix and suffix. */
export function composedPrompt(o: PresetCliOptions): string | undefined {
  return o.prompt === undefined ? undefined : `${o.promptPrefix ?? ''}${o.prompt}${o.promptSuffix ?? ''}`;
}

/** A note when the preset was made with another adapter than this run's, or null. */
export function adapterMismatch(preset: StylePreset, adapter: string | undefined): string | null {
  const made = preset.madeWith.adapter;
  if (made === undefined || adapter === undefined || path.basename(adapter) === made) return null;
  return `preset ${preset.name} was made with the adapter ${made}; this run uses ${path.basename(adapter)}, so the look will differ`;
}

/** The flags as a preset named `name` (reads the style images; the store checks the whole preset). */
export async function presetFromOptions(name: string, o: PresetCliOptions): Promise<NewPreset> {
  if (o.style === undefined) throw new UsageError('a preset needs a reference image: --style IMG (or --style-preset)');
  const styles = ([] as string[]).concat(o.style);
  const negatives = o.negativeStyle === undefined ? [] : ([] as string[]).concat(o.negativeStyle);
  if (negatives.length > 1) throw new UsageError('a preset keeps one --negative-style image');
  const weights = o.styleWeights === undefined ? styles.map(() => 1) : o.styleWeights.split(',').map((w) => decimal('--style-weights', w.trim())!);
  if (weights.length !== styles.length) throw new UsageError(`--style-weights gives ${weights.length} weights for ${styles.length} --style images`);
  if (o.negativeStyle !== undefined && o.drop !== undefined) throw new UsageError('--negative-style and --drop exclude each other');
  if (o.teacher === false && o.teacherSteps !== undefined) throw new UsageError('--teacher-steps and --no-teacher exclude each other');
  const read = async (flag: string, file: string) => {
    try {
      return await readImageFile(file);
    } catch (e) {
      throw new UsageError(`${flag}: ${(e as Error).message}`);
    }
  };
  const drop = parseDrop(o.drop);
  const seed = integer('--seed', o.seed);
  const layers = o.styleLayers === undefined ? undefined : parseStyleLayers(o.styleLayers);
  const settings: PresetSettings = JSON.parse(JSON.stringify({
    promptPrefix: o.promptPrefix,
    promptSuffix: o.promptSuffix,
    negativePrompt: o.negativePrompt,
    crossModalAdain: o.adain !== false,
    strength: decimal('--strength', o.strength),
    scale: decimal('--scale', o.scale),
    adainStrength: decimal('--adain-strength', o.adainStrength),
    styleLayers: layers,
    styleResize: oneOf<'none' | 'square512'>('--style-resize', o.styleResize, ['none', 'square512']),
    teacherSteps: o.teacher === false ? null : integer('--teacher-steps', o.teacherSteps),
    guidance: decimal('--guidance', o.guidance) ?? SPEC_DEFAULTS.guidance,
    steps: integer('--steps', o.steps) ?? SPEC_DEFAULTS.steps,
    variations: integer('--variations', o.variations),
    width: integer('--width', o.width) ?? SPEC_DEFAULTS.width,
    height: integer('--height', o.height) ?? SPEC_DEFAULTS.height,
    scheduler: oneOf<SchedulerName>('--scheduler', o.scheduler, SCHEDULER_NAMES),
  })) as PresetSettings; // JSON round trip: leaves out what was not given (null, for no teacher, stays)
  return {
    name,
    references: await Promise.all(styles.map(async (file, i) => ({ image: await read('--style', file), weight: weights[i]! }))),
    elements: negatives.length > 0 ? { kind: 'image', image: await read('--negative-style', negatives[0]!) }
      : drop !== undefined ? { kind: 'drop', preset: drop } : { kind: 'none' },
    madeWith: o.adapter !== undefined ? { adapter: path.basename(o.adapter) } : {},
    settings,
    seed: seed === undefined ? { kind: 'random' } : { kind: 'fixed', seed },
  };
}
