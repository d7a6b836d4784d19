/**
 * Where the Hugging Face hub cache lives and how one repository is laid out in it, as
 * huggingface_hub writes it: `models--{owner}--{name}/{blobs,snapshots,refs}`; snapshots hold
 * relative symlinks into blobs/, and refs/{revision} holds the commit hash.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assertSafeRepo, assertSafeRepoPath, assertSafeRevision } from './default-models';
import { hubCacheDir } from './hub-cache';

/** The cache root: an explicit `--models DIR`, else the environment's hub cache (hub-cache.ts). */
export function modelsCacheDir(explicit?: string): string {
  return explicit ? path.resolve(explicit) : hubCacheDir();
}

/** The hub's base URL: HF_ENDPOINT or huggingface.co. */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
}

export class RepoCache {
  readonly dir: string;

  constructor(
    readonly cacheDir: string,
    readonly repo: string,
  ) {
    assertSafeRepo(repo);
    this.dir = path.join(cacheDir, `models--${repo.replace('/', '--')}`);
  }

  blobPath(etag: string): string {
    if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(etag)) throw new Error(`invalid blob id ${JSON.stringify(etag)}`);
    return path.join(this.dir, 'blobs', etag);
  }

  snapshotPath(commit: string, file: string): string {
    if (!/^[0-9a-f]{40}$/.test(commit)) throw new Error(`invalid commit hash ${JSON.stringify(commit)}`);
    assertSafeRepoPath(file);
    return path.join(this.dir, 'snapshots', commit, ...file.split('/'));
  }

  refPath(revision: string): string {
    assertSafeRevision(revision);
    return path.join(this.dir, 'refs', revision);
  }

  /** Commit a revision points at locally: the revision itself if it is a hash, else refs/{revision}. */
  resolveRevision(revision: string): string | undefined {
    if (/^[0-9a-f]{40}$/.test(revision)) return revision;
    try {
      const commit = fs.readFileSync(this.refPath(revision), 'utf8').trim();
      return /^[0-9a-f]{40}$/.test(commit) ? commit : undefined;
    } catch {
      return undefined;
    }
  }

  /** The local file for `file` at `revision`, if present (symlink resolved, a regular non-empty file). */
  findFile(revision: string, file: string): string | undefined {
    const commit = this.resolveRevision(revision);
    if (commit === undefined) return undefined;
    const p = this.snapshotPath(commit, file);
    try {
      const st = fs.statSync(p);
      return st.isFile() ? p : undefined;
    } catch {
      return undefined;
    }
  }
}
