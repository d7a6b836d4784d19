import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../helpers/paths';

test('protocol/ imports nothing but zod and its own modules (the panel bundles it)', () => {
  const dir = path.join(repoRoot, 'protocol');
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = fs.readFileSync(path.join(dir, file), 'utf8');
    const imports = [...source.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
    for (const spec of imports) expect([file, spec]).toEqual([file, expect.stringMatching(/^(zod|\.\/[a-z-]+)$/)]);
  }
});
