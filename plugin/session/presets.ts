/**
 * Presets in the panel: a preset's values as the panel's settings, the panel's settings as a preset, and the spec
 * fields the panel has no control for (scheduler, style layers, …), which go with every job while a preset is applied.
 */
import {
  defaultTeacherSteps, dropElements, STRENGTH_DEFAULT, type GenerateInput, type ModelSets, type PresetSettings, type SeedPolicy, type StylePreset,
} from '../../protocol';
import { LONG_SIDES, type Settings } from './settings';

type Params = GenerateInput['params'];

/** The panel's settings for a preset: every control it has, the long side nearest the preset's size. */
export function settingsFromPreset(preset: StylePreset, current: Settings): Settings {
  const s = preset.settings;
  const long = Math.max(s.width, s.height);
  const longSide = LONG_SIDES.reduce((best, n) => (Math.abs(n - long) < Math.abs(best - long) ? n : best), LONG_SIDES[0]);
  return {
    ...current,
    avoid: preset.elements.kind === 'drop' ? { kind: 'drop', elements: dropElements(preset.elements.preset) } : { kind: 'none' },
    negativePrompt: s.negativePrompt ?? '',
    adain: s.crossModalAdain,
    strength: s.strength ?? STRENGTH_DEFAULT,
    teacher: s.teacherSteps !== null,
    teacherSteps: s.teacherSteps ?? defaultTeacherSteps(s.steps),
    guidance: s.guidance,
    steps: s.steps,
    variations: s.variations ?? current.variations,
    seedMode: preset.seed.kind,
    seed: preset.seed.kind === 'fixed' ? preset.seed.seed : current.seed,
    longSide,
  };
}

/** What the applied preset adds that the panel has no control for (absent without a preset). */
function extrasOf(preset: StylePreset | undefined): Partial<PresetSettings> {
  if (preset === undefined) return {};
  const { scheduler, styleLayers, styleResize, promptPrefix, promptSuffix, scale, adainStrength } = preset.settings;
  return Object.fromEntries(Object.entries({ scheduler, styleLayers, styleResize, promptPrefix, promptSuffix, scale, adainStrength })
    .filter(([, v]) => v !== undefined));
}

/** The panel's settings as a preset's settings and seed policy, at output size `size`, keeping what an applied preset adds. */
export function presetFromSettings(s: Settings, size: { width: number; height: number }, applied: StylePreset | undefined): { settings: PresetSettings; seed: SeedPolicy } {
  const extras = extrasOf(applied);
  const pair = extras.scale !== undefined || extras.adainStrength !== undefined;
  return {
    settings: {
      ...extras,
      ...(s.negativePrompt.trim() ? { negativePrompt: s.negativePrompt.trim() } : {}),
      crossModalAdain: s.adain,
      ...(pair ? {} : { strength: s.strength }),
      teacherSteps: s.teacher ? Math.min(s.teacherSteps, s.steps) : null,
      guidance: s.guidance,
      steps: s.steps,
      variations: s.variations,
      width: size.width,
      height: size.height,
    },
    seed: s.seedMode === 'fixed' ? { kind: 'fixed', seed: s.seed } : { kind: 'random' },
  };
}

/** A job's params with the applied preset's prompt prefix/suffix and the fields the panel has no control for. */
export function withPresetParams(params: Params, applied: StylePreset | undefined): Params {
  const { promptPrefix, promptSuffix, ...extras } = extrasOf(applied);
  const { strength, ...rest } = params;
  const pair = extras.scale !== undefined || extras.adainStrength !== undefined;
  return {
    ...rest,
    ...(pair ? {} : strength !== undefined ? { strength } : {}),
    ...extras,
    prompt: `${promptPrefix ?? ''}${params.prompt}${promptSuffix ?? ''}`,
  };
}

/** A note when the preset was made with another model set than the companion's current one, or null. */
export function modelSetNote(preset: StylePreset, sets: ModelSets | null): string | null {
  const made = preset.madeWith.modelSet;
  if (made === undefined || sets === null || sets.current === made) return null;
  const name = (id: string) => sets.sets.find((s) => s.id === id)?.name ?? id;
  return `Preset “${preset.name}” was made with the model set ${name(made)}; the companion now runs ${name(sets.current)}, so the look will differ.`;
}
