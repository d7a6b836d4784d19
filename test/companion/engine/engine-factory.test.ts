/**
 * `serve`'s engine factory on the default set as a hub cache made of the tiny fixtures (tiny-model-set.ts: SDXL
 * folder without VAE weights, a separate VAE repo, a CSGO-format adapter named csgo_4_32.bin, the image encoder
 * under sdxl_models/): the engine becomes ready and generates; with models missing it says so.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createEngine } from '../../../companion/engine/engine-factory';
import type { GenerationEngine } from '../../../companion/engine/engine';
import { DEFAULT_MODELS } from '../../../companion/weights/default-models';
import { modelStatuses, type ModelStatus } from '../../../companion/weights/model-catalog';
import { writeTinyDefaultSet } from '../../helpers/tiny-model-set';
import { generateTinyJob } from '../../helpers/tiny-job';

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'stylestudio-factory-'));
  writeTinyDefaultSet(root);
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

/** What serve sees: the hub cache's statuses, or every model missing. */
function statuses(present: boolean): ModelStatus[] {
  if (present) return modelStatuses(root);
  return DEFAULT_MODELS.map((spec) => ({ spec, present: false, missingFiles: spec.files.map((f) => f.path), missingBytes: 0, snapshotDir: undefined }));
}

async function ready(engine: GenerationEngine): Promise<void> {
  for (let i = 0; i < 2400 && !engine.status().ready; i++) { // up to a minute: the provider probe and the folders
    if (engine.status().reason !== 'loading the models') break; // opening failed: the assertion below shows why
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('all present: the ONNX engine, ready, generates a StyleStudio image with the CSGO adapter', async () => {
  const engine = createEngine({ models: statuses(true), cacheDir: root });
  try {
    await ready(engine);
    expect(engine.status()).toMatchObject({ ready: true, provider: 'cpu' });
    const images = await generateTinyJob(engine);
    expect(images).toHaveLength(1);
    expect(images[0]!.image).toMatchObject({ width: 64, height: 64 });
  } finally {
    await engine.close();
  }
});

test('models missing: not ready, modelsMissing, names them', () => {
  const engine = createEngine({ models: statuses(false), cacheDir: root });
  expect(engine.status()).toMatchObject({ ready: false, modelsMissing: true });
  expect(engine.status().reason).toContain('sdxl-base');
});
