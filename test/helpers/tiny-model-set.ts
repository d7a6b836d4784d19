/**
 * The default model set (DEFAULT_MODELS: SDXL base, the fp16-fix VAE, CSGO csgo_4_32, the image encoder) laid
 * out as a Hugging Face hub cache, but made of the tiny fixture models through symlinks: `serve` finds it exactly
 * where it finds the real set (HF_HUB_CACHE or --models), so tests run what users run on a model that fits CI.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_MODELS } from '../../companion/weights/default-models';
import { RepoCache } from '../../companion/weights/hub-layout';
import { fixture } from './paths';

/** The commit every tiny repository's refs/main points at (any 40-hex string does). */
export const TINY_COMMIT = '0123456789abcdef0123456789abcdef01234567';

/** Fills one model's snapshot folder from the fixtures. */
const SNAPSHOTS: Record<string, (dir: string) => void> = {
  'sdxl-base': (dir) => {
    for (const entry of fs.readdirSync(fixture('sdxl-tiny'))) {
      if (entry === 'vae') continue; // the default set takes the VAE weights from the fp16-fix repo
      fs.symlinkSync(fixture('sdxl-tiny', entry), path.join(dir, entry));
    }
    fs.mkdirSync(path.join(dir, 'vae'));
    fs.symlinkSync(fixture('sdxl-tiny', 'vae', 'config.json'), path.join(dir, 'vae', 'config.json'));
  },
  'sdxl-vae-fp16-fix': (dir) => {
    for (const file of ['config.json', 'diffusion_pytorch_model.safetensors']) fs.symlinkSync(fixture('sdxl-tiny', 'vae', file), path.join(dir, file));
  },
  'csgo-adapter': (dir) => fs.symlinkSync(fixture('ip-adapter-tiny', 'csgo', 'csgo_tiny.bin'), path.join(dir, 'csgo_4_32.bin')),
  'image-encoder': (dir) => {
    fs.mkdirSync(path.join(dir, 'sdxl_models'));
    fs.symlinkSync(fixture('ip-adapter-tiny', 'sdxl_models', 'image_encoder'), path.join(dir, 'sdxl_models', 'image_encoder'));
  },
};

/** Writes the tiny default set into `cacheDir` (created if needed); returns each model's snapshot folder by id. */
export function writeTinyDefaultSet(cacheDir: string): Record<string, string> {
  const snapshots: Record<string, string> = {};
  for (const spec of DEFAULT_MODELS) {
    const fill = SNAPSHOTS[spec.id];
    if (!fill) throw new Error(`no tiny fixture for default model ${spec.id}: add one to test/helpers/tiny-model-set.ts`);
    const repo = new RepoCache(cacheDir, spec.repo);
    const snapshot = path.join(repo.dir, 'snapshots', TINY_COMMIT);
    fs.mkdirSync(snapshot, { recursive: true });
    fill(snapshot);
    fs.mkdirSync(path.dirname(repo.refPath(spec.revision)), { recursive: true });
    fs.writeFileSync(repo.refPath(spec.revision), TINY_COMMIT);
    for (const file of spec.files) {
      if (repo.findFile(spec.revision, file.path) === undefined) throw new Error(`tiny default set lacks ${spec.repo}/${file.path}`);
    }
    snapshots[spec.id] = snapshot;
  }
  return snapshots;
}
