/**
 * `models pull sdxl-tokenizers` against a loopback hub: only the eight tokenizer files are fetched, and a checkpoint
 * with the built-in sdxl-base configs then finds them in the hub cache.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SDXL_TOKENIZERS } from '../../../companion/weights/default-models';
import { resolveModelSource } from '../../../companion/weights/model-source';
import { builtinConfigDir } from '../../../companion/weights/single-file';
import { runCli } from '../../helpers/cli-process';
import { defaultSetHub } from '../../helpers/default-set-hub';
import type { FakeHub } from '../../helpers/fake-hub';
import { fixture } from '../../helpers/paths';

let tmp: string;
let hub: FakeHub;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-tokenizers-'));
  hub = defaultSetHub();
  await hub.start();
});
afterAll(async () => {
  await hub.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('pull sdxl-tokenizers fetches the tokenizer files only; the checkpoint source then uses them', async () => {
  const cacheDir = path.join(tmp, 'hub');
  const env = { STYLESTUDIO_CONFIG_DIR: path.join(tmp, 'config'), HF_HUB_CACHE: cacheDir, HF_HOME: '', HF_ENDPOINT: hub.endpoint };
  const checkpoint = fixture('sdxl-tiny', 'unet', 'diffusion_pytorch_model.safetensors'); // any existing file: only the path is resolved here
  expect(() => resolveModelSource({ checkpoint }, { cacheDir, rootsEnv: '' })).toThrow(/models pull sdxl-tokenizers/);
  const r = await runCli(['models', 'pull', 'sdxl-tokenizers'], env);
  expect(r.code).toBe(0);
  const source = resolveModelSource({ checkpoint }, { cacheDir, rootsEnv: '' })!;
  const snapshot = source.modelConfig!.tokenizerDir!;
  const inCache = fs.readdirSync(snapshot, { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory())
    .map((e) => path.relative(snapshot, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
  expect(inCache.sort()).toEqual(SDXL_TOKENIZERS.files.map((f) => f.path).sort()); // nothing else was downloaded
  expect(source.modelConfig!.configDir).toBe(builtinConfigDir('sdxl-base'));
  expect(fs.existsSync(path.join(source.modelConfig!.tokenizerDir!, 'tokenizer_2', 'vocab.json'))).toBe(true);
});
