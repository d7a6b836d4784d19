/**
 * The dependency directions of docs/ARCHITECTURE.md (the block between <!-- imports --> markers) hold for every
 * run-time import in companion/, plugin/ and protocol/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../helpers/paths';
import { importGraph } from './import-graph';

function allowedImports(): Map<string, Set<string>> {
  const doc = fs.readFileSync(path.join(repoRoot, 'docs', 'ARCHITECTURE.md'), 'utf8');
  const block = /<!-- imports -->\s*```text\n([\s\S]*?)```\s*<!-- \/imports -->/.exec(doc);
  if (!block) throw new Error('docs/ARCHITECTURE.md has no <!-- imports --> block');
  const rules = new Map<string, Set<string>>();
  for (const line of block[1]!.split('\n').filter((l) => l.trim() !== '')) {
    const m = /^(\S+)\s+->\s*(.*)$/.exec(line.trim());
    if (!m) throw new Error(`ARCHITECTURE.md imports block: cannot read ${JSON.stringify(line)}`);
    rules.set(m[1]!, new Set(m[2]!.split(/\s+/).filter((x) => x !== '')));
  }
  return rules;
}

test('every run-time import between areas is one ARCHITECTURE.md allows', () => {
  const rules = allowedImports();
  const wrong: string[] = [];
  const unknown = new Set<string>();
  for (const e of importGraph()) {
    if (e.from === e.to || e.typeOnly || e.to.startsWith('pkg:node:')) continue;
    const allowed = rules.get(e.from);
    if (!allowed) {
      unknown.add(e.from);
      continue;
    }
    if (!allowed.has(e.to)) wrong.push(`${e.file} → ${e.to}`);
  }
  expect([...unknown]).toEqual([]);
  expect(wrong).toEqual([]);
});

test('onnxruntime-node is loaded by the session worker and the provider list only; photoshop and uxp by plugin/host only', () => {
  const edges = importGraph().filter((e) => !e.typeOnly);
  expect([...new Set(edges.filter((e) => e.to === 'pkg:onnxruntime-node').map((e) => e.file))].sort())
    .toEqual([path.join('companion', 'onnx', 'providers.ts'), path.join('companion', 'onnx', 'session-worker.ts')]);
  expect(edges.filter((e) => (e.to === 'pkg:photoshop' || e.to === 'pkg:uxp') && e.from !== 'plugin/host')).toEqual([]);
});

test('the scanner sees what it must: a known run-time import, a type-only one, and a package', () => {
  const edges = importGraph();
  const file = path.join('companion', 'runtime', 'model-set.ts');
  expect(edges).toContainEqual({ file, from: 'companion/runtime', to: 'companion/models', typeOnly: false });
  expect(edges.some((e) => e.file === path.join('companion', 'pipeline', 'stylestudio-pipeline.ts') && e.to === 'companion/runtime' && e.typeOnly)).toBe(true);
  expect(edges.some((e) => e.file === path.join('companion', 'onnx', 'session-worker.ts') && e.to === 'pkg:onnxruntime-node')).toBe(true);
});
