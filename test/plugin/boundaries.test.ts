import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../helpers/paths';

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : /\.tsx?$/.test(e.name) ? [p] : [];
  });
}

const pluginDir = path.join(repoRoot, 'plugin');
const HOST_MODULE = /(?:from\s+|require\()\s*['"](photoshop|uxp)(?:\/[^'"]*)?['"]/;

test('only plugin/host/ loads the photoshop and uxp modules', () => {
  const offenders = sources(pluginDir)
    .filter((f) => !f.startsWith(path.join(pluginDir, 'host') + path.sep))
    .filter((f) => HOST_MODULE.test(fs.readFileSync(f, 'utf8')))
    .map((f) => path.relative(repoRoot, f));
  expect(offenders).toEqual([]);
});

/** `import { type A, type B } from` brings no runtime code; anything else does. */
function bringsRuntime(clause: string): boolean {
  const named = clause.trim().match(/^\{([^}]*)\}$/);
  if (!named) return true;
  return named[1]!.split(',').map((s) => s.trim()).filter(Boolean).some((s) => !s.startsWith('type '));
}

test('ui/ gets props and callbacks only: no host, client or session runtime imports, no sockets', () => {
  const offenders = sources(path.join(pluginDir, 'ui')).flatMap((f) => {
    const text = fs.readFileSync(f, 'utf8');
    const imports = [...text.matchAll(/^import\s+(?!type\b)([^;]*?)\s+from\s+['"](\.\.\/(?:host|client|session)\/[^'"]+)['"]/gm)]
      .filter((m) => bringsRuntime(m[1]!))
      .filter((m) => !m[2]!.endsWith('/settings')) // plain constants (defaults, size choices)
      .map((m) => `${path.relative(repoRoot, f)}: ${m[2]}`);
    return /WebSocket|new\s+CompanionClient/.test(text) ? [...imports, `${path.relative(repoRoot, f)}: socket`] : imports;
  });
  expect(offenders).toEqual([]);
});
