/**
 * Writing one file into the Hugging Face hub cache layout exactly as `stylestudio models pull`
 * (companion/weights/download.ts) leaves it: the bytes in `blobs/<id>` (id = sha256 for LFS files, git's blob
 * sha1 otherwise), `snapshots/<commit>/<path>` a relative symlink to it, `refs/<revision>` the commit.
 *
 * The bytes go to `blobs/realshape-<n>.incomplete` first (truncated on every start, so an interrupted file is
 * rewritten from scratch), are fsynced and renamed to their blob id, and only then is the snapshot link made:
 * a snapshot path that resolves to a file of the planned size is therefore complete, and is skipped on a rerun.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RepoCache } from '../../companion/weights/hub-layout';
import type { FileContent } from './content';

export interface HubFile {
  /** Path inside the repository. */
  readonly path: string;
  /** Stored with git LFS on the hub (weights): blob id is the sha256, else the git blob sha1. */
  readonly lfs: boolean;
  readonly content: FileContent;
}

/** True when snapshots/<commit>/<path> resolves to a regular file of exactly the planned size. */
export function isComplete(cache: RepoCache, commit: string, file: HubFile): boolean {
  try {
    const st = fs.statSync(cache.snapshotPath(commit, file.path));
    return st.isFile() && st.size === file.content.size;
  } catch {
    return false;
  }
}

export function partialPath(cache: RepoCache, commit: string, file: HubFile): string {
  const id = createHash('sha1').update(`${commit}/${file.path}`).digest('hex').slice(0, 16);
  return path.join(cache.dir, 'blobs', `realshape-${id}.incomplete`);
}

/** Writes the file (blob, then snapshot link); `onBytes` is called as bytes are written. Returns the blob path. */
export function writeHubFile(cache: RepoCache, commit: string, file: HubFile, onBytes: (n: number) => void = () => {}): string {
  const partial = partialPath(cache, commit, file);
  fs.mkdirSync(path.dirname(partial), { recursive: true });
  const size = file.content.size;
  const hash = file.lfs ? createHash('sha256') : createHash('sha1').update(`blob ${size}\0`);
  const fd = fs.openSync(partial, 'w', 0o644);
  let written = 0;
  try {
    file.content.write((bytes) => {
      let done = 0;
      while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done);
      hash.update(bytes);
      written += bytes.length;
      onBytes(bytes.length);
    });
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (written !== size) throw new Error(`${cache.repo}/${file.path}: wrote ${written} bytes, planned ${size}`);
  const blob = cache.blobPath(hash.digest('hex'));
  fs.renameSync(partial, blob);
  linkSnapshot(blob, cache.snapshotPath(commit, file.path));
  return blob;
}

/** snapshots/<commit>/<file> → relative symlink to the blob, replaced atomically (as download.ts does). */
function linkSnapshot(blob: string, snapshot: string): void {
  fs.mkdirSync(path.dirname(snapshot), { recursive: true });
  const tmp = `${snapshot}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  fs.symlinkSync(path.relative(path.dirname(snapshot), blob), tmp);
  fs.renameSync(tmp, snapshot);
}

export function writeRef(cache: RepoCache, revision: string, commit: string): void {
  const ref = cache.refPath(revision);
  fs.mkdirSync(path.dirname(ref), { recursive: true });
  const tmp = `${ref}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, commit);
  fs.renameSync(tmp, ref);
}

/** One writer per cache folder: `.locks/realshape.lock` holds the pid; a lock of a dead process is taken over. */
export function lockCache(cacheDir: string): () => void {
  const lock = path.join(cacheDir, '.locks', 'realshape.lock');
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(fs.readFileSync(lock, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new Error(`${lock}: another realshape run (pid ${pid}) is writing into ${cacheDir}`);
      }
      fs.rmSync(lock, { force: true });
    }
  }
  throw new Error(`${lock}: cannot take the lock`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
