/** The panel's preset mapping: a preset as the panel's settings and back, the fields the panel has no control for, model set notes. */
import { StylePreset, type ModelSets } from '../../protocol';
import { modelSetNote, presetFromSettings, settingsFromPreset, withPresetParams } from '../../plugin/session/presets';
import { DEFAULT_SETTINGS } from '../../plugin/session/settings';

const preset = StylePreset.parse({
  version: 1, name: 'ink', createdAt: 'now', references: [{ image: 'reference-0.png', weight: 1 }], elements: { kind: 'drop', preset: 'texture' },
  madeWith: { modelSet: 'default' },
  settings: { crossModalAdain: false, strength: 0.55, guidance: 7.5, steps: 30, width: 768, height: 512, teacherSteps: null, variations: 3,
    scheduler: 'ddim', styleLayers: { kind: 'all' }, promptPrefix: 'ink drawing of ', negativePrompt: 'blurry' },
  seed: { kind: 'fixed', seed: 9 },
});

test('applying sets every control the panel has, the long side nearest the preset size', () => {
  expect(settingsFromPreset(preset, { ...DEFAULT_SETTINGS, prompt: 'kept' })).toEqual({
    ...DEFAULT_SETTINGS, prompt: 'kept', avoid: { kind: 'drop', elements: ['texture'] }, negativePrompt: 'blurry', adain: false, strength: 0.55,
    teacher: false, teacherSteps: 12, guidance: 7.5, steps: 30, variations: 3, seedMode: 'fixed', seed: 9, longSide: 768,
  });
});

test('a job with the preset applied carries its prefix and the fields the panel has no control for; saving keeps them', () => {
  const params = withPresetParams({ prompt: 'a harbour', strength: 0.55, steps: 30 }, preset);
  expect(params).toEqual({ prompt: 'ink drawing of a harbour', strength: 0.55, steps: 30, scheduler: 'ddim', styleLayers: { kind: 'all' } });
  expect(withPresetParams({ prompt: 'a harbour', strength: 0.5 }, undefined)).toEqual({ prompt: 'a harbour', strength: 0.5 });
  const back = presetFromSettings(settingsFromPreset(preset, DEFAULT_SETTINGS), { width: 768, height: 512 }, preset);
  expect(back).toEqual({ settings: { ...preset.settings, crossModalAdain: false }, seed: preset.seed });
  // a preset made with scale and AdaIN blend keeps them instead of the panel's one strength
  const pair = StylePreset.parse({ ...preset, settings: { ...preset.settings, strength: undefined, scale: 1.2, adainStrength: 0.5 } });
  expect(withPresetParams({ prompt: 'p', strength: 0.8 }, pair)).toMatchObject({ scale: 1.2, adainStrength: 0.5 });
  expect(withPresetParams({ prompt: 'p', strength: 0.8 }, pair)).not.toHaveProperty('strength');
});

test('a preset made with another model set is noted with both names', () => {
  const sets = (current: string): ModelSets => ({
    type: 'modelSets', current, models: [], engine: { ready: true },
    sets: [{ id: 'default', name: 'Default set (SDXL base + CSGO)', kind: 'default', usable: true }, { id: 'juggernaut', name: 'juggernaut.safetensors', kind: 'checkpoint', usable: true }],
  });
  expect(modelSetNote(preset, sets('default'))).toBeNull();
  expect(modelSetNote(preset, null)).toBeNull();
  expect(modelSetNote(preset, sets('juggernaut'))).toBe('Preset “ink” was made with the model set Default set (SDXL base + CSGO); the companion now runs juggernaut.safetensors, so the look will differ.');
});
