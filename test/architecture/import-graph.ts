/**
 * The import graph of the source tree by area: companion/<folder> (a file directly under companion/ is its own
 * area, e.g. companion/cli), plugin/<folder>, protocol, and external packages by name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../helpers/paths';

export interface ImportEdge {
  readonly file: string;
  readonly from: string;
  /** An area of the tree, or `pkg:<name>` for a package. */
  readonly to: string;
  /** `import type …`: erased at compile time, no run-time dependency. */
  readonly typeOnly: boolean;
}

const ROOTS = ['companion', 'plugin', 'protocol'];
const SPEC = /(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)'([^']+)'/gm;
/** The statement a `from '…'` ends, to tell `import type {…} from` (and `export type … from`) apart. */
function statementBefore(text: string, index: number): string {
  const start = Math.max(text.lastIndexOf(';', index), text.lastIndexOf('\n\n', index), 0);
  return text.slice(start, index);
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The area a repository-relative path belongs to. */
export function areaOf(rel: string): string {
  const parts = rel.split(path.sep);
  if (parts[0] === 'protocol') return 'protocol';
  if (parts.length === 2) return `${parts[0]}/${parts[1]!.replace(/\.tsx?$/, '')}`;
  return `${parts[0]}/${parts[1]}`;
}

export function importGraph(): ImportEdge[] {
  const root = repoRoot;
  const edges: ImportEdge[] = [];
  for (const top of ROOTS) {
    for (const file of sourceFiles(path.join(root, top))) {
      const rel = path.relative(root, file);
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(SPEC)) {
        const spec = m[1]!;
        let to: string;
        if (spec.startsWith('.')) {
          const target = path.relative(root, path.resolve(path.dirname(file), spec));
          if (target.startsWith('..')) throw new Error(`${rel} imports ${spec}, outside the repository`);
          to = areaOf(target);
        } else {
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
          to = `pkg:${name}`;
        }
        const typeOnly = /(?:^|[\s;])(?:import|export)\s+type\b/.test(statementBefore(text, m.index));
        edges.push({ file: rel, from: areaOf(rel), to, typeOnly });
      }
    }
  }
  return edges;
}
