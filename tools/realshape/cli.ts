/**
 * npm run realshape -- --out DIR [--seed N] [--only id,id] [--dry-run | --verify]
 *                      [--configs DIR] [--manifests DIR] [--vocab DIR]
 *
 * Writes the default model set (README "The default model set") with random weights of the exact real file
 * names, tensor names, shapes and dtypes into the hub cache folder DIR, as `stylestudio models pull` would lay it
 * out: `HF_HUB_CACHE=DIR npx stylestudio models list` then finds all four models. Reruns skip finished files.
 * No Python and no network: everything comes from tools/realshape/{configs,manifests} and test/fixtures/clip-vocab.
 * --dry-run lists the plan; --verify checks a written set with the project's readers instead of writing (verify.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { formatBytes, generateSet, selectModels } from './generate';
import { planSet, type SetSources } from './plan';
import { verifySet } from './verify';

/** The repository root: the first folder above this file with a package.json (works from dist/ too). */
export function repoRoot(from: string = __dirname): string {
  let dir = from;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
  return dir;
}

export function defaultSources(root: string = repoRoot()): SetSources {
  return {
    configsDir: path.join(root, 'tools', 'realshape', 'configs'),
    manifestsDir: path.join(root, 'tools', 'realshape', 'manifests'),
    vocabDir: path.join(root, 'test', 'fixtures', 'clip-vocab'),
  };
}

const USAGE = 'usage: npm run realshape -- --out DIR [--seed N] [--only id,id] [--dry-run | --verify] [--configs DIR] [--manifests DIR] [--vocab DIR]';

export function main(argv: readonly string[]): number {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        out: { type: 'string' },
        seed: { type: 'string', default: '0' },
        only: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        verify: { type: 'boolean', default: false },
        configs: { type: 'string' },
        manifests: { type: 'string' },
        vocab: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`realshape: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!/^\d+$/.test(values.seed)) {
    process.stderr.write(`realshape: --seed must be a non-negative integer, got ${JSON.stringify(values.seed)}\n`);
    return 2;
  }
  const defaults = defaultSources();
  const sources: SetSources = {
    configsDir: values.configs ? path.resolve(values.configs) : defaults.configsDir,
    manifestsDir: values.manifests ? path.resolve(values.manifests) : defaults.manifestsDir,
    vocabDir: values.vocab ? path.resolve(values.vocab) : defaults.vocabDir,
  };
  const seed = Number(values.seed);
  const only = values.only?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  try {
    if (values['dry-run']) {
      for (const m of planSet(sources, seed, selectModels(only))) {
        process.stdout.write(`${m.spec.id} ${m.spec.repo} snapshot ${m.commit}\n`);
        for (const f of m.files) process.stdout.write(`  ${f.path}  ${formatBytes(f.content.size)}  (${path.relative(process.cwd(), f.source)})\n`);
      }
      return 0;
    }
    if (!values.out) {
      process.stderr.write(`realshape: --out DIR is required (the hub cache folder to write into)\n${USAGE}\n`);
      return 2;
    }
    const cacheDir = path.resolve(values.out);
    if (values.verify) {
      const models = planSet(sources, seed, selectModels(only));
      const report = verifySet(cacheDir, models);
      for (const p of report.problems) process.stderr.write(`realshape: ${p}\n`);
      process.stdout.write(`realshape verify: ${report.checkedFiles} files, ${report.tensors} tensors, ${report.problems.length} problems in ${cacheDir}\n`);
      return report.problems.length === 0 ? 0 : 1;
    }
    generateSet({ cacheDir, seed, sources, ...(only ? { only } : {}) });
    return 0;
  } catch (err) {
    process.stderr.write(`realshape: ${(err as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
