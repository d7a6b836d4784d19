import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository root, found from the compiled test file's location (dist/test/...). */
export const repoRoot: string = (() => {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
  return dir;
})();

/** A path inside test/fixtures (tiny models and golden tensors copied from the reference tools). */
export function fixture(...parts: string[]): string {
  return path.join(repoRoot, 'test', 'fixtures', ...parts);
}
