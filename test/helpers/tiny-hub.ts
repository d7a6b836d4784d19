/**
 * A FakeHub on loopback serving the tiny default model set (tiny-model-set.ts) file for file, so `models pull` and
 * the panel's Download button fetch a set the engine really loads.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_MODELS } from '../../companion/weights/default-models';
import { RepoCache } from '../../companion/weights/hub-layout';
import { FakeHub } from './fake-hub';
import { writeTinyDefaultSet } from './tiny-model-set';

export function tinySetHub(): FakeHub {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stylestudio-tiny-hub-'));
  try {
    writeTinyDefaultSet(dir);
    const repos: Record<string, Record<string, Buffer>> = {};
    for (const spec of DEFAULT_MODELS) {
      const cache = new RepoCache(dir, spec.repo);
      const files: Record<string, Buffer> = (repos[spec.repo] ??= {});
      for (const f of spec.files) files[f.path] = fs.readFileSync(cache.findFile(spec.revision, f.path)!);
    }
    return new FakeHub(repos);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
