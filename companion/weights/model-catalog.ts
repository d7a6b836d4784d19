/** Which models of a set are in the hub cache, and fetching the missing files. */
import * as path from 'node:path';
import { DEFAULT_MODELS, type ModelSpec } from './default-models';
import { downloadFile } from './download';
import { RepoCache } from './hub-layout';

export interface ModelStatus {
  readonly spec: ModelSpec;
  readonly present: boolean;
  readonly missingFiles: readonly string[];
  /** Approximate bytes still to download. */
  readonly missingBytes: number;
  /** Folder of the snapshot when present (the diffusers folder, or the file's folder). */
  readonly snapshotDir: string | undefined;
}

export function modelStatus(cacheDir: string, spec: ModelSpec): ModelStatus {
  const cache = new RepoCache(cacheDir, spec.repo);
  const missing = spec.files.filter((f) => cache.findFile(spec.revision, f.path) === undefined);
  const commit = cache.resolveRevision(spec.revision);
  return {
    spec,
    present: missing.length === 0,
    missingFiles: missing.map((f) => f.path),
    missingBytes: missing.reduce((n, f) => n + f.approxBytes, 0),
    snapshotDir: missing.length === 0 && commit ? path.join(cache.dir, 'snapshots', commit) : undefined,
  };
}

export function modelStatuses(cacheDir: string, models: readonly ModelSpec[] = DEFAULT_MODELS): ModelStatus[] {
  return models.map((m) => modelStatus(cacheDir, m));
}

export interface PullOptions {
  readonly cacheDir: string;
  readonly endpoint: string;
  readonly token?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((model: string, file: string, receivedBytes: number, totalBytes: number) => void) | undefined;
  /** Called before each file starts. */
  readonly onFile?: ((model: string, file: string) => void) | undefined;
}

/** Downloads every missing file of `models` (present files are not even asked about). */
export async function pullModels(options: PullOptions, models: readonly ModelSpec[] = DEFAULT_MODELS): Promise<ModelStatus[]> {
  for (const spec of models) {
    for (const file of modelStatus(options.cacheDir, spec).missingFiles) {
      options.onFile?.(spec.id, file);
      await downloadFile(
        { repo: spec.repo, revision: spec.revision, file },
        {
          endpoint: options.endpoint, cacheDir: options.cacheDir, token: options.token, signal: options.signal,
          onProgress: (received, total) => options.onProgress?.(spec.id, file, received, total),
        },
      );
    }
  }
  return modelStatuses(options.cacheDir, models);
}

/** A download size for people: "6.9 GB", "335.0 MB". */
export function formatGB(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GB` : `${(bytes / 1024 ** 2).toFixed(1)} MB`;
}
