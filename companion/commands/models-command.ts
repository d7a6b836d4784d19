/**
 * `stylestudio models list|pull`: the default model set in the hub cache, and fetching what is missing; `list` also
 * shows what the ComfyUI / A1111 model roots hold (model-roots.ts), and which of their files cannot be used and why.
 */
import type { Command } from 'commander';
import { DEFAULT_MODELS, PULLABLE_MODELS } from '../weights/default-models';
import { hubEndpoint, modelsCacheDir } from '../weights/hub-layout';
import { formatGB, modelStatuses, pullModels, type ModelStatus } from '../weights/model-catalog';
import { modelRoots, type RootScan, scanModelRoot } from '../weights/model-roots';
import { ProgressLine } from '../weights/progress-line';

export function describeStatus(s: ModelStatus): string {
  const head = `${s.present ? 'present' : 'missing'}  ${s.spec.id.padEnd(18)} ${s.spec.repo}`;
  if (s.present) return `${head}\n         ${s.snapshotDir}`;
  return `${head}\n         ${s.missingFiles.length} of ${s.spec.files.length} files missing, about ${formatGB(s.missingBytes)}: ${s.missingFiles.join(', ')}`;
}

export function describeRootScan(scan: RootScan): string {
  const lines = [`model root: ${scan.root} (${scan.layout === 'comfyui' ? 'ComfyUI' : 'AUTOMATIC1111/Forge'})`];
  for (const f of scan.found) lines.push(`  ${f.kind.padEnd(12)} ${f.name}  ${formatGB(f.bytes)}`);
  for (const u of scan.unusable) lines.push(`  unusable     ${u.file}: ${u.problem} [${u.code}]`);
  if (scan.found.length === 0 && scan.unusable.length === 0) lines.push('  (no model files)');
  return lines.join('\n');
}

const collect = (v: string, acc: string[]): string[] => [...acc, v];

export function registerModelsCommand(program: Command): void {
  const models = program.command('models').description('list or download the default model set (Hugging Face hub cache)');
  models
    .command('list')
    .description('show which models of the default set are in the hub cache')
    .option('--models <dir>', 'hub cache folder to use instead of HF_HUB_CACHE / HF_HOME / ~/.cache/huggingface/hub')
    .option('--model-root <dir>', 'also list a ComfyUI or AUTOMATIC1111 folder (repeatable; adds to STYLESTUDIO_MODEL_ROOTS)', collect, [] as string[])
    .option('--json', 'print JSON')
    .action((opts: { models?: string; json?: boolean; modelRoot: string[] }) => {
      const cacheDir = modelsCacheDir(opts.models);
      const statuses = modelStatuses(cacheDir);
      const scans = modelRoots(opts.modelRoot).map(scanModelRoot);
      if (opts.json) {
        const rows = statuses.map((s) => ({ id: s.spec.id, repo: s.spec.repo, present: s.present, missingFiles: s.missingFiles, snapshotDir: s.snapshotDir ?? null }));
        process.stdout.write(`${JSON.stringify({ cacheDir, models: rows, roots: scans }, null, 2)}\n`);
        return;
      }
      process.stdout.write(`hub cache: ${cacheDir}\n`);
      for (const s of statuses) process.stdout.write(`${describeStatus(s)}\n`);
      const missing = statuses.filter((s) => !s.present);
      if (missing.length > 0) process.stdout.write('download the missing ones with `stylestudio models pull`\n');
      for (const scan of scans) process.stdout.write(`${describeRootScan(scan)}\n`);
    });
  models
    .command('pull')
    .description('download the missing files of the default set (resumable, size- and hash-checked)')
    .argument('[ids...]', `models to fetch (default: all of ${DEFAULT_MODELS.map((m) => m.id).join(', ')}; also sdxl-tokenizers alone, for single-file checkpoints)`)
    .option('--models <dir>', 'hub cache folder to download into')
    .action(async (ids: string[], opts: { models?: string }) => {
      const unknown = ids.filter((id) => !PULLABLE_MODELS.some((m) => m.id === id));
      if (unknown.length > 0) throw new Error(`unknown model ${unknown.join(', ')}; known: ${PULLABLE_MODELS.map((m) => m.id).join(', ')}`);
      const chosen = ids.length > 0 ? PULLABLE_MODELS.filter((m) => ids.includes(m.id)) : DEFAULT_MODELS;
      const cacheDir = modelsCacheDir(opts.models);
      const endpoint = hubEndpoint();
      process.stdout.write(`hub cache: ${cacheDir}\nfrom: ${endpoint}\n`);
      const progress = new ProgressLine();
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      try {
        const statuses = await pullModels(
          { cacheDir, endpoint, token: process.env.HF_TOKEN, signal: controller.signal, onProgress: (m, f, r, t) => progress.update(m, f, r, t) },
          chosen,
        );
        progress.end();
        for (const s of statuses) process.stdout.write(`${describeStatus(s)}\n`);
      } finally {
        progress.end();
      }
    });
}
