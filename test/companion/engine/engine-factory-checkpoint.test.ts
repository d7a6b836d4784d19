/**
 * `serve --checkpoint`: the engine factory with a single-file checkpoint in place of SDXL base (and its VAE), the
 * rest of the default set (CSGO adapter, image encoder) from a hub cache of the tiny fixtures. Neither sdxl-base nor
 * the fp16-fix VAE needs to be downloaded; without the adapter the engine still says what is missing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createEngine } from '../../../companion/engine/engine-factory';
import { modelStatuses, type ModelStatus } from '../../../companion/weights/model-catalog';
import { fixture } from '../../helpers/paths';
import { writeTinyDefaultSet } from '../../helpers/tiny-model-set';
import { generateTinyJob } from '../../helpers/tiny-job';
import { writeOriginalCheckpoint } from '../weights/ldm-checkpoint-writer';

let root: string;
let checkpoint: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'stylestudio-factory-ckpt-'));
  writeTinyDefaultSet(root);
  checkpoint = writeOriginalCheckpoint(fixture('sdxl-tiny'), path.join(root, 'tiny-sdxl.safetensors'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const without = (ids: readonly string[]): ModelStatus[] =>
  modelStatuses(root).map((s) => (ids.includes(s.spec.id) ? { ...s, present: false, snapshotDir: undefined } : s));

test('sdxl-base and the fp16-fix VAE absent: ready on the checkpoint, generates a styled image', async () => {
  const model = { model: checkpoint, modelConfig: { configDir: fixture('sdxl-tiny') } };
  const engine = createEngine({ models: without(['sdxl-base', 'sdxl-vae-fp16-fix']), cacheDir: root, model });
  try {
    for (let i = 0; i < 2400 && !engine.status().ready && engine.status().reason === 'loading the models'; i++) await new Promise((r) => setTimeout(r, 25));
    expect(engine.status()).toMatchObject({ ready: true, provider: 'cpu' });
    const images = await generateTinyJob(engine);
    expect(images.map((i) => [i.image.width, i.image.height])).toEqual([[64, 64]]);
  } finally {
    await engine.close();
  }
}, 120_000);

test('the adapter still comes from the default set: missing, the engine names it', () => {
  const engine = createEngine({ models: without(['csgo-adapter']), cacheDir: root, model: { model: checkpoint, modelConfig: { configDir: fixture('sdxl-tiny') } } });
  expect(engine.status()).toMatchObject({ ready: false, modelsMissing: true });
  expect(engine.status().reason).toContain('csgo-adapter');
  expect(engine.status().reason).not.toContain('sdxl-base');
});

test('a checkpoint without a VAE borrows the fp16-fix VAE from the hub cache; without that either, the engine says how to get it', async () => {
  const vaeless = writeOriginalCheckpoint(fixture('sdxl-tiny'), path.join(root, 'tiny-sdxl-novae.safetensors'), { parts: ['unet', 'text_encoder', 'text_encoder_2'] });
  const model = { model: vaeless, modelConfig: { configDir: fixture('sdxl-tiny') } };
  const lacking = createEngine({ models: without(['sdxl-base', 'sdxl-vae-fp16-fix']), cacheDir: path.join(root, 'empty-cache'), model });
  expect(lacking.status()).toMatchObject({ ready: false, modelsMissing: true });
  expect(lacking.status().reason).toMatch(/^models missing: sdxl-vae-fp16-fix; download them/); // not sdxl-base
  await lacking.close();
  const engine = createEngine({ models: without(['sdxl-base']), cacheDir: root, model });
  try {
    for (let i = 0; i < 2400 && !engine.status().ready && engine.status().reason === 'loading the models'; i++) await new Promise((r) => setTimeout(r, 25));
    expect(engine.status()).toMatchObject({ ready: true, provider: 'cpu' });
    expect((await generateTinyJob(engine)).map((i) => [i.image.width, i.image.height])).toEqual([[64, 64]]);
  } finally {
    await engine.close();
  }
}, 120_000);
