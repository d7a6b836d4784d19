/**
 * Writes the planned set into a hub cache folder: per model refs/main, then every file not already complete
 * (hub.ts), logging one line per file, a progress line at most every `progressEveryMs` within large files, and a
 * summary (files, bytes, seconds).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ModelSpec } from '../../companion/weights/default-models';
import { DEFAULT_MODELS } from '../../companion/weights/default-models';
import { RepoCache } from '../../companion/weights/hub-layout';
import { isComplete, lockCache, writeHubFile, writeRef } from './hub';
import { planSet, type PlannedModel, type SetSources } from './plan';

export interface GenerateOptions {
  /** Hub cache root (what HF_HUB_CACHE points at). */
  readonly cacheDir: string;
  readonly seed: number;
  readonly sources: SetSources;
  /** Model ids to write (default: all). */
  readonly only?: readonly string[];
  readonly models?: readonly ModelSpec[];
  readonly log?: (line: string) => void;
  readonly progressEveryMs?: number;
  /** Called after every write with the file's bytes so far (tests use it to interrupt a run). */
  readonly onBytes?: (model: string, file: string, bytesSoFar: number) => void;
}

export interface FileResult {
  readonly model: string;
  readonly path: string;
  readonly bytes: number;
  readonly action: 'written' | 'skipped';
  readonly seconds: number;
}

export interface GenerateResult {
  readonly models: readonly PlannedModel[];
  readonly files: readonly FileResult[];
  readonly writtenBytes: number;
  readonly seconds: number;
}

export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

export function selectModels(only: readonly string[] | undefined, models: readonly ModelSpec[] = DEFAULT_MODELS): ModelSpec[] {
  if (!only || only.length === 0) return [...models];
  const unknown = only.filter((id) => !models.some((m) => m.id === id));
  if (unknown.length > 0) throw new Error(`unknown model ${unknown.join(', ')}; known: ${models.map((m) => m.id).join(', ')}`);
  return models.filter((m) => only.includes(m.id));
}

export function generateSet(options: GenerateOptions): GenerateResult {
  if (os.endianness() !== 'LE') throw new Error('realshape writes little-endian tensor bytes from typed arrays: run it on a little-endian machine');
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const every = options.progressEveryMs ?? 5000;
  const models = planSet(options.sources, options.seed, selectModels(options.only, options.models));
  const total = models.reduce((n, m) => n + m.files.reduce((k, f) => k + f.content.size, 0), 0);
  const count = models.reduce((n, m) => n + m.files.length, 0);
  log(`realshape: seed ${options.seed}, ${models.length} models, ${count} files, ${formatBytes(total)} into ${options.cacheDir}`);

  fs.mkdirSync(options.cacheDir, { recursive: true });
  const unlock = lockCache(options.cacheDir);
  const started = Date.now();
  const results: FileResult[] = [];
  let writtenBytes = 0;
  let index = 0;
  try {
    for (const model of models) {
      const cache = new RepoCache(options.cacheDir, model.spec.repo);
      removeStalePartials(cache);
      writeRef(cache, model.spec.revision, model.commit);
      for (const file of model.files) {
        index++;
        const label = `[${index}/${count}] ${model.spec.id} ${file.path}`;
        if (isComplete(cache, model.commit, file)) {
          results.push({ model: model.spec.id, path: file.path, bytes: file.content.size, action: 'skipped', seconds: 0 });
          log(`${label}: complete, skipped (${formatBytes(file.content.size)})`);
          continue;
        }
        const t0 = Date.now();
        let done = 0;
        let lastReport = t0;
        writeHubFile(cache, model.commit, file, (n) => {
          done += n;
          options.onBytes?.(model.spec.id, file.path, done);
          const now = Date.now();
          if (now - lastReport >= every) {
            lastReport = now;
            log(`${label}: ${formatBytes(done)} of ${formatBytes(file.content.size)}, ${((now - started) / 1000).toFixed(0)} s`);
          }
        });
        const seconds = (Date.now() - t0) / 1000;
        writtenBytes += file.content.size;
        results.push({ model: model.spec.id, path: file.path, bytes: file.content.size, action: 'written', seconds });
        const rate = seconds > 0.5 ? `, ${formatBytes(file.content.size / seconds)}/s` : '';
        log(`${label}: written ${formatBytes(file.content.size)} in ${seconds.toFixed(1)} s${rate}`);
      }
    }
  } finally {
    unlock();
  }
  const seconds = (Date.now() - started) / 1000;
  const skipped = results.filter((r) => r.action === 'skipped').length;
  log(`realshape: wrote ${results.length - skipped} files (${formatBytes(writtenBytes)}), skipped ${skipped} complete, in ${seconds.toFixed(1)} s`);
  return { models, files: results, writtenBytes, seconds };
}

/** Partial files this tool left in an interrupted run (any seed): they are never resumed, only rewritten. */
function removeStalePartials(cache: RepoCache): void {
  const blobs = path.join(cache.dir, 'blobs');
  let names: string[];
  try {
    names = fs.readdirSync(blobs);
  } catch {
    return;
  }
  for (const name of names) {
    if (/^realshape-[0-9a-f]{16}\.incomplete$/.test(name)) fs.rmSync(path.join(blobs, name), { force: true });
  }
}
