/** `stylestudio models list|pull`: the default model set in the hub cache, and fetching what is missing. */
import type { Command } from 'commander';
import { DEFAULT_MODELS } from '../weights/default-models';
import { hubEndpoint, modelsCacheDir } from '../weights/hub-layout';
import { formatGB, modelStatuses, pullModels, type ModelStatus } from '../weights/model-catalog';
import { ProgressLine } from '../weights/progress-line';

export function describeStatus(s: ModelStatus): string {
  const head = `${s.present ? 'present' : 'missing'}  ${s.spec.id.padEnd(18)} ${s.spec.repo}`;
  if (s.present) return `${head}\n         ${s.snapshotDir}`;
  return `${head}\n         ${s.missingFiles.length} of ${s.spec.files.length} files missing, about ${formatGB(s.missingBytes)}: ${s.missingFiles.join(', ')}`;
}

export function registerModelsCommand(program: Command): void {
  const models = program.command('models').description('list or download the default model set (Hugging Face hub cache)');
  models
    .command('list')
    .description('show which models of the default set are in the hub cache')
    .option('--models <dir>', 'hub cache folder to use instead of HF_HUB_CACHE / HF_HOME / ~/.cache/huggingface/hub')
    .option('--json', 'print JSON')
    .action((opts: { models?: string; json?: boolean }) => {
      const cacheDir = modelsCacheDir(opts.models);
      const statuses = modelStatuses(cacheDir);
      if (opts.json) {
        const rows = statuses.map((s) => ({ id: s.spec.id, repo: s.spec.repo, present: s.present, missingFiles: s.missingFiles, snapshotDir: s.snapshotDir ?? null }));
        process.stdout.write(`${JSON.stringify({ cacheDir, models: rows }, null, 2)}\n`);
        return;
      }
      process.stdout.write(`hub cache: ${cacheDir}\n`);
      for (const s of statuses) process.stdout.write(`${describeStatus(s)}\n`);
      const missing = statuses.filter((s) => !s.present);
      if (missing.length > 0) process.stdout.write('download the missing ones with `stylestudio models pull`\n');
    });
  models
    .command('pull')
    .description('download the missing files of the default set (resumable, size- and hash-checked)')
    .argument('[ids...]', `models to fetch (default: all of ${DEFAULT_MODELS.map((m) => m.id).join(', ')})`)
    .option('--models <dir>', 'hub cache folder to download into')
    .action(async (ids: string[], opts: { models?: string }) => {
      const unknown = ids.filter((id) => !DEFAULT_MODELS.some((m) => m.id === id));
      if (unknown.length > 0) throw new Error(`unknown model ${unknown.join(', ')}; known: ${DEFAULT_MODELS.map((m) => m.id).join(', ')}`);
      const chosen = ids.length > 0 ? DEFAULT_MODELS.filter((m) => ids.includes(m.id)) : DEFAULT_MODELS;
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
