/** The preset store on disk: pixels kept exactly, overwrite only when asked, atomic replacement, unreadable folders listed. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRgbaImage } from '../../../companion/image/rgba';
import { type NewPreset, PresetStore, readPresetImages } from '../../../companion/presets/store';
import { codeOf } from '../../helpers/error-code';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stylestudio-store-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function image(w: number, h: number, seed: number) {
  const img = createRgbaImage(w, h);
  for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 31 + seed * 7) & 255; // alpha varies too
  return img;
}

const preset = (name: string, extra: Partial<NewPreset> = {}): NewPreset => ({
  name, references: [{ image: image(13, 7, 1), weight: 1 }], elements: { kind: 'image', image: image(5, 9, 2) },
  madeWith: {}, settings: { crossModalAdain: true, guidance: 5, steps: 10, width: 512, height: 512 }, seed: { kind: 'random' }, ...extra,
});

test('save then read: the images come back pixel for pixel (alpha included); the folder holds preset.json and the PNGs', async () => {
  const store = new PresetStore(path.join(dir, 'presets'));
  const p = preset('one');
  await store.save(p);
  expect(fs.readdirSync(path.join(dir, 'presets', 'one')).sort()).toEqual(['negative.png', 'preset.json', 'reference-0.png']);
  const images = await readPresetImages(store.open('one'));
  expect(Buffer.from(images.references[0]!.data).equals(Buffer.from(p.references[0]!.image.data))).toBe(true);
  expect(Buffer.from(images.negative!.data).equals(Buffer.from((p.elements as { image: { data: Uint8Array } }).image.data))).toBe(true);
  expect(store.list().map((e) => e.name)).toEqual(['one']);
});

test('an existing name is replaced only when asked, in one swap that leaves no temporary folders', async () => {
  const store = new PresetStore(path.join(dir, 'presets'));
  await store.save(preset('one'));
  const first = fs.readFileSync(path.join(dir, 'presets', 'one', 'preset.json'), 'utf8');
  await expect(store.save(preset('one', { seed: { kind: 'fixed', seed: 1 } }))).rejects.toMatchObject({ code: 'PRESET_EXISTS' });
  expect(fs.readFileSync(path.join(dir, 'presets', 'one', 'preset.json'), 'utf8')).toBe(first);
  await store.save(preset('one', { seed: { kind: 'fixed', seed: 1 }, elements: { kind: 'none' } }), { overwrite: true });
  expect(store.open('one').preset.seed).toEqual({ kind: 'fixed', seed: 1 });
  expect(fs.readdirSync(path.join(dir, 'presets', 'one')).sort()).toEqual(['preset.json', 'reference-0.png']); // the old negative went with the old folder
  expect(fs.readdirSync(path.join(dir, 'presets'))).toEqual(['one']);
});

test('refusals carry their codes and write nothing', async () => {
  const store = new PresetStore(path.join(dir, 'presets'));
  await expect(store.save(preset('../out'))).rejects.toMatchObject({ code: 'PRESET_INVALID' });
  await expect(store.save(preset('six', { references: Array.from({ length: 6 }, (_, k) => ({ image: image(2, 2, k), weight: 1 })) })))
    .rejects.toMatchObject({ code: 'PRESET_UNSUPPORTED' });
  await expect(store.save(preset('bad', { settings: { crossModalAdain: true, guidance: 5, steps: 10, width: 500, height: 512 } })))
    .rejects.toMatchObject({ code: 'PRESET_INVALID', message: expect.stringMatching(/settings\.width: width 500 is not a multiple of 32/) });
  expect(fs.existsSync(path.join(dir, 'presets')) ? fs.readdirSync(path.join(dir, 'presets')) : []).toEqual([]);
  expect(codeOf(() => store.open('missing'))).toBe('PRESET_NOT_FOUND');
  expect(codeOf(() => store.delete('missing'))).toBe('PRESET_NOT_FOUND');
  expect(store.list()).toEqual([]);
});

test('a preset.json naming a missing image, or holding no JSON, is listed with its problem and refused when opened', async () => {
  const store = new PresetStore(path.join(dir, 'presets'));
  await store.save(preset('one'));
  fs.rmSync(path.join(dir, 'presets', 'one', 'negative.png'));
  fs.mkdirSync(path.join(dir, 'presets', 'junk'));
  fs.writeFileSync(path.join(dir, 'presets', 'junk', 'preset.json'), '{');
  expect(store.list()).toEqual([
    { name: 'junk', problem: expect.stringMatching(/junk.preset\.json: not valid JSON$/) },
    { name: 'one', problem: expect.stringMatching(/names negative\.png, which is missing from the folder$/) },
  ]);
  expect(codeOf(() => store.open('one'))).toBe('PRESET_INVALID');
  // by folder path too
  expect(codeOf(() => store.resolve(path.join(dir, 'presets', 'junk')))).toBe('PRESET_INVALID');
});
