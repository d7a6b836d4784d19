/** The preset schema both programs share: safe names, strict fields, settings that make a valid spec, one reference for now. */
import { presetNameProblem, presetSpecFields, referencesProblem, StylePreset, generationSpecSchema } from '../../protocol';
import { z } from 'zod';

const valid = {
  version: 1, name: 'ink series', createdAt: '2026-01-01T00:00:00.000Z',
  references: [{ image: 'reference-0.png', weight: 1 }], elements: { kind: 'drop', preset: 'texture' }, madeWith: { modelSet: 'default' },
  settings: { crossModalAdain: true, strength: 0.6, guidance: 5, steps: 30, width: 1024, height: 768, teacherSteps: null, promptSuffix: ', in ink' },
  seed: { kind: 'fixed', seed: 42 },
};

test('names: letters, digits, space, _ . -; no paths, no hidden files, no trailing dot or space, no Windows device names', () => {
  for (const ok of ['ink series', 'a', 'v1.2_final-B', 'x'.repeat(64)]) expect(presetNameProblem(ok)).toBeNull();
  for (const bad of ['', '../x', 'a/b', 'a\\b', '.hidden', 'trailing.', 'trailing ', 'x'.repeat(65), 'tab\there', 'é']) {
    expect(presetNameProblem(bad)).toMatch(/must be 1–64 letters/);
  }
  expect(presetNameProblem('CON')).toMatch(/reserved on Windows/);
  expect(presetNameProblem('lpt1.txt')).toMatch(/reserved on Windows/);
});

test('a valid preset parses; unknown fields, other versions and settings that make no valid spec are refused', () => {
  expect(StylePreset.safeParse(valid).success).toBe(true);
  const issue = (p: unknown) => {
    const r = StylePreset.safeParse(p);
    return r.success ? 'parsed' : `${r.error.issues[0]!.path.join('.')}: ${r.error.issues[0]!.message}`;
  };
  expect(issue({ ...valid, version: 2 })).toMatch(/^version: /);
  expect(issue({ ...valid, extra: 1 })).toMatch(/extra/);
  expect(issue({ ...valid, settings: { ...valid.settings, scale: 1 } })).toBe('settings.strength: give strength, or scale and adainStrength, not both');
  expect(issue({ ...valid, settings: { ...valid.settings, width: 1000 } })).toMatch(/width 1000 is not a multiple of 32/);
  expect(issue({ ...valid, settings: { ...valid.settings, teacherSteps: 40 } })).toMatch(/teacherSteps must be an integer in \[0, 30\]/);
  expect(issue({ ...valid, references: [{ image: '../etc/passwd', weight: 1 }] })).toMatch(/^references\.0\.image: an image file name inside the preset folder/);
});

test('up to five references are applicable, one with a weight above 0; more, or all at 0, are refused saying so', () => {
  expect(referencesProblem([{ weight: 1 }])).toBeNull();
  expect(referencesProblem([{ weight: 1 }, { weight: 0.5 }])).toBeNull();
  expect(referencesProblem(Array.from({ length: 6 }, () => ({ weight: 1 })))).toMatch(/has 6 reference images; StyleStudio takes at most 5/);
  expect(referencesProblem([{ weight: 0 }, { weight: 0 }])).toMatch(/at least one reference image needs a weight above 0/);
});

test('a preset applied to a prompt is a spec: prefix and suffix around the prompt, the fixed seed, no prompt of its own', () => {
  const p = StylePreset.parse(valid);
  const fields = presetSpecFields(p.settings, p.seed, 'a lighthouse');
  expect(fields).toMatchObject({ prompt: 'a lighthouse, in ink', seed: 42, steps: 30, strength: 0.6, teacherSteps: null });
  expect(generationSpecSchema(z.string()).safeParse({ ...fields, style: 'ref.png', drop: 'texture' }).success).toBe(true);
  expect(presetSpecFields(p.settings, { kind: 'random' }, 'x').seed).toBeNull();
});
