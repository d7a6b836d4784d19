/**
 * Downloads one file from the Hugging Face hub into the hub cache layout, as huggingface_hub does:
 * HEAD for metadata (X-Repo-Commit; X-Linked-Etag/ETag = blob id; X-Linked-Size/Content-Length),
 * GET into blobs/{etag}.incomplete (resumed with Range after an interruption), size and hash check
 * (sha256 for LFS blobs, git's blob sha1 otherwise), atomic rename to blobs/{etag}, then the
 * snapshots/{commit}/{file} symlink and refs/{revision}. A file that fails a check is never renamed
 * into place, so the cache never holds a corrupt blob.
 */
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { assertSafeRepoPath, assertSafeRevision } from './default-models';
import { RepoCache } from './hub-layout';
import { codedErrorClass } from '../../protocol';

export interface HubFile {
  readonly repo: string;
  readonly revision: string;
  readonly file: string;
}

export interface DownloadOptions {
  /** Hub base URL (HF_ENDPOINT), e.g. https://huggingface.co. */
  readonly endpoint: string;
  /** Hub cache root. */
  readonly cacheDir: string;
  /** Sent to the hub (not to CDN redirects) as a Bearer token, for gated repositories. */
  readonly token?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Called as bytes arrive (received includes bytes resumed from an earlier run). */
  readonly onProgress?: ((receivedBytes: number, totalBytes: number) => void) | undefined;
}

export interface FileMetadata {
  readonly commit: string;
  /** Blob id: sha256 (64 hex) for LFS files, git blob sha1 (40 hex) otherwise. */
  readonly etag: string;
  readonly size: number;
  /** Where the bytes come from (the CDN after a redirect). */
  readonly downloadUrl: string;
}

export class DownloadError extends codedErrorClass('DownloadError', 'DOWNLOAD_FAILED') {}

/** Strips the weak marker and quotes, as huggingface_hub's _normalize_etag does. */
export function normalizeEtag(etag: string | undefined): string | undefined {
  return etag?.replace(/^W\//, '').replace(/^"+|"+$/g, '');
}

export function resolveUrl(endpoint: string, f: HubFile): string {
  assertSafeRevision(f.revision);
  assertSafeRepoPath(f.file);
  const file = f.file.split('/').map(encodeURIComponent).join('/');
  return `${endpoint}/${f.repo}/resolve/${encodeURIComponent(f.revision)}/${file}`;
}

interface Response {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: http.IncomingMessage;
}

function request(url: string, method: 'HEAD' | 'GET', headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : undefined;
    if (!lib) return reject(new DownloadError(`unsupported URL scheme in ${url}`));
    const req = lib.request(u, { method, headers: { 'Accept-Encoding': 'identity', 'User-Agent': 'stylestudio-companion', ...headers }, signal });
    req.setTimeout(60_000, () => req.destroy(new DownloadError(`no response from ${u.host} for 60 s`)));
    req.on('response', (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }));
    req.on('error', reject);
    req.end();
  });
}

function header(headers: http.IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function sameOrigin(a: string, b: string): boolean {
  return new URL(a).origin === new URL(b).origin;
}

/** HEAD with hub-relative redirects followed (renamed repos); an absolute redirect is the CDN location. */
export async function fetchMetadata(f: HubFile, options: DownloadOptions): Promise<FileMetadata> {
  let url = resolveUrl(options.endpoint, f);
  const auth: Record<string, string> = options.token ? { Authorization: `Bearer ${options.token}` } : {};
  for (let hops = 0; hops < 5; hops++) {
    const res = await request(url, 'HEAD', auth, options.signal);
    res.body.resume();
    const location = header(res.headers, 'location');
    if (res.status >= 300 && res.status < 400 && location?.startsWith('/')) {
      url = new URL(location, url).toString();
      continue;
    }
    if (res.status === 401 || res.status === 403) {
      throw new DownloadError(`${f.repo}/${f.file}: the hub refused access (${res.status}); accept the model's licence on huggingface.co and set HF_TOKEN`);
    }
    if (res.status === 404) throw new DownloadError(`${f.repo}/${f.file}: not found on ${options.endpoint} at revision ${f.revision}`);
    const redirected = res.status >= 300 && res.status < 400;
    if (!redirected && res.status !== 200) throw new DownloadError(`${f.repo}/${f.file}: HEAD ${url} answered ${res.status}`);
    const commit = header(res.headers, 'x-repo-commit');
    const etag = normalizeEtag(header(res.headers, 'x-linked-etag') ?? header(res.headers, 'etag'));
    const sizeText = header(res.headers, 'x-linked-size') ?? (redirected ? undefined : header(res.headers, 'content-length'));
    const size = sizeText !== undefined && /^\d+$/.test(sizeText) ? Number(sizeText) : NaN;
    if (!commit || !/^[0-9a-f]{40}$/.test(commit)) throw new DownloadError(`${f.repo}/${f.file}: the hub sent no valid X-Repo-Commit`);
    if (!etag || !/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(etag)) throw new DownloadError(`${f.repo}/${f.file}: the hub sent no usable ETag (${etag}); cannot verify the file`);
    if (!Number.isSafeInteger(size)) throw new DownloadError(`${f.repo}/${f.file}: the hub sent no file size`);
    const downloadUrl = redirected && location ? new URL(location, url).toString() : url;
    return { commit, etag, size, downloadUrl };
  }
  throw new DownloadError(`${f.repo}/${f.file}: too many redirects`);
}

/** Hash that must equal the etag: sha256 of the bytes, or git's sha1 of "blob <size>\0" + bytes. */
function blobHasher(etag: string, size: number): Hash {
  if (etag.length === 64) return createHash('sha256');
  return createHash('sha1').update(`blob ${size}\0`);
}

async function hashFilePrefix(file: string, hash: Hash): Promise<void> {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | NOFOLLOW);
  for await (const chunk of fs.createReadStream('', { fd })) hash.update(chunk as Buffer);
}

/** O_NOFOLLOW where the platform has it (not on Windows, where planting a symlink needs rights a page lacks). */
const NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;

/**
 * Size of a regular file at `file` without following symlinks; -1 when absent. Anything else there (a symlink,
 * a folder) is not ours: it is removed, so the download starts over on a fresh file.
 */
function regularFileSize(file: string): number {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return -1;
    throw err;
  }
  if (st.isFile()) return st.size;
  fs.rmSync(file, { force: true, recursive: st.isDirectory() });
  return -1;
}

/** Headroom kept free beyond the file itself (the filesystem and everything else need some). */
const FREE_SPACE_MARGIN = 256 * 1024 * 1024;

/** Refuses to start a download the disk cannot hold, naming the folder and both sizes. */
function checkFreeSpace(dir: string, bytes: number, what: string): void {
  let free: number;
  try {
    const st = fs.statfsSync(dir);
    free = Number(st.bavail) * Number(st.bsize);
  } catch {
    return; // statfs unsupported here: the write itself will fail with ENOSPC
  }
  if (free < bytes + FREE_SPACE_MARGIN) {
    const gb = (n: number) => `${(n / 1e9).toFixed(2)} GB`;
    throw new DownloadError(`${what}: needs ${gb(bytes)} (plus ${gb(FREE_SPACE_MARGIN)} to spare) but ${dir} has ${gb(free)} free; free some space or point --models / HF_HUB_CACHE at a bigger disk`);
  }
}

/** One writer per blob across processes; a lock left by a dead process is taken over. */
function acquireLock(lockPath: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(lockPath, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(fs.readFileSync(lockPath, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new DownloadError(`${lockPath}: another download (pid ${pid}) is writing this file`);
      }
      fs.rmSync(lockPath, { force: true });
    }
  }
  throw new DownloadError(`${lockPath}: cannot take the download lock`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Completes the partial file (resuming what an earlier run left) and returns the hex digest of all its bytes. */
async function receive(meta: FileMetadata, partial: string, options: DownloadOptions, what: string): Promise<string> {
  let hasher = blobHasher(meta.etag, meta.size);
  let have = regularFileSize(partial);
  if (have > meta.size) {
    fs.rmSync(partial, { force: true }); // longer than the file can be: not a prefix of it
    have = -1;
  }
  if (have > 0) await hashFilePrefix(partial, hasher);
  have = Math.max(0, have);
  if (have === meta.size) return hasher.digest('hex');
  checkFreeSpace(path.dirname(partial), meta.size - have, what);
  const auth: Record<string, string> = options.token && sameOrigin(meta.downloadUrl, options.endpoint) ? { Authorization: `Bearer ${options.token}` } : {};
  const res = await request(meta.downloadUrl, 'GET', have > 0 ? { ...auth, Range: `bytes=${have}-` } : auth, options.signal);
  let start: number;
  if (res.status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header(res.headers, 'content-range') ?? '');
    start = m ? Number(m[1]) : NaN;
    if (start !== have) {
      res.body.destroy();
      throw new DownloadError(`${what}: the server resumed at byte ${m?.[1] ?? '?'} instead of ${have}`);
    }
  } else if (res.status === 200) {
    start = 0; // the server ignored Range: start over
  } else {
    res.body.resume();
    throw new DownloadError(`${what}: GET answered ${res.status}`);
  }
  if (start === 0 && have > 0) {
    hasher = blobHasher(meta.etag, meta.size);
    have = 0;
  }
  // Never through a symlink: one planted at the partial's name would make us write wherever it points.
  const fd = fs.openSync(partial, fs.constants.O_WRONLY | fs.constants.O_CREAT | NOFOLLOW | (start === 0 ? fs.constants.O_TRUNC : fs.constants.O_APPEND), 0o644);
  let received = have;
  try {
    for await (const chunk of res.body) {
      const bytes = chunk as Buffer;
      if (received + bytes.length > meta.size) {
        throw new DownloadError(`${what}: the server sent more than the announced ${meta.size} bytes`);
      }
      fs.writeSync(fd, bytes);
      hasher.update(bytes);
      received += bytes.length;
      options.onProgress?.(received, meta.size);
    }
    fs.fsyncSync(fd);
  } catch (err) {
    if (err instanceof DownloadError) {
      fs.closeSync(fd);
      fs.rmSync(partial, { force: true }); // the data itself is wrong: nothing to resume
      throw err;
    }
    throw new DownloadError(`${what}: the connection broke at ${received} of ${meta.size} bytes (${(err as Error).message}); run the download again to resume`);
  } finally {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed above
    }
  }
  if (received < meta.size) {
    throw new DownloadError(`${what}: the connection ended at ${received} of ${meta.size} bytes; run the download again to resume`);
  }
  return hasher.digest('hex');
}

/** Points snapshots/{commit}/{file} at the blob (relative symlink; a copy where symlinks are not allowed). */
function linkSnapshot(blob: string, snapshot: string): void {
  fs.mkdirSync(path.dirname(snapshot), { recursive: true });
  const tmp = `${snapshot}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  try {
    fs.symlinkSync(path.relative(path.dirname(snapshot), blob), tmp);
  } catch {
    fs.copyFileSync(blob, tmp);
  }
  fs.renameSync(tmp, snapshot);
}

function writeRef(refPath: string, commit: string): void {
  fs.mkdirSync(path.dirname(refPath), { recursive: true });
  const tmp = `${refPath}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, commit, { flag: 'wx' }); // exclusive create: never through a planted symlink
  fs.renameSync(tmp, refPath);
}

/** Makes `file` present in the cache at `revision`; returns its snapshot path. */
export async function downloadFile(f: HubFile, options: DownloadOptions): Promise<string> {
  const what = `${f.repo}/${f.file}`;
  const cache = new RepoCache(options.cacheDir, f.repo);
  const meta = await fetchMetadata(f, options);
  const blob = cache.blobPath(meta.etag);
  const snapshot = cache.snapshotPath(meta.commit, f.file);
  fs.mkdirSync(path.dirname(blob), { recursive: true });
  const existing = regularFileSize(blob); // a symlink planted as the blob is removed, not followed
  if (existing !== meta.size) {
    const release = acquireLock(`${blob}.lock`);
    try {
      const partial = `${blob}.incomplete`;
      const digest = await receive(meta, partial, options, what);
      if (digest !== meta.etag) {
        fs.rmSync(partial, { force: true });
        throw new DownloadError(`${what}: content hash ${digest} does not match the hub's ${meta.etag}; the partial file was deleted`);
      }
      fs.chmodSync(partial, 0o644);
      fs.renameSync(partial, blob);
    } finally {
      release();
    }
  }
  options.onProgress?.(meta.size, meta.size);
  linkSnapshot(blob, snapshot);
  if (f.revision !== meta.commit) writeRef(cache.refPath(f.revision), meta.commit);
  return snapshot;
}
