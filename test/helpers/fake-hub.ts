/**
 * A Hugging Face hub look-alike on 127.0.0.1 for download tests: `/{repo}/resolve/{rev}/{file}`
 * answers HEAD/GET like the hub (small files: 200 with the git blob sha1 as ETag; large "LFS"
 * files: 302 to an absolute /cdn/{sha256} URL with X-Linked-Etag/X-Linked-Size), honours Range,
 * and can misbehave on purpose (truncate, stall, corrupt, ignore Range, send extra bytes).
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export const FAKE_COMMIT = '0123456789abcdef0123456789abcdef01234567';

export interface Faults {
  /** Send this many body bytes, then cut the connection. */
  truncateAfter?: number;
  /** Send this many body bytes, then keep the connection open silently. */
  stallAfter?: number;
  /** Flip the byte at this absolute file offset. */
  corruptAt?: number;
  /** Answer 200 with the whole file even when a Range was asked. */
  ignoreRange?: boolean;
  /** Append this many bytes beyond the file. */
  extraBytes?: number;
}

export interface LoggedRequest {
  readonly method: string;
  readonly url: string;
  readonly range: string | undefined;
  readonly authorization: string | undefined;
  readonly cdn: boolean;
}

interface Blob {
  readonly bytes: Buffer;
  readonly sha256: string;
  readonly gitSha1: string;
  readonly lfs: boolean;
}

export class FakeHub {
  readonly requests: LoggedRequest[] = [];
  faults: Faults = {};
  private readonly files = new Map<string, Blob>(); // "repo/file" → blob
  private readonly cdn = new Map<string, Blob>(); // sha256 → blob
  private readonly server: http.Server;
  /** A second origin for the LFS redirect target, as the real hub's CDN is. */
  private readonly cdnServer: http.Server;
  private cdnBase = '';
  private readonly stalled = new Set<http.ServerResponse>();
  endpoint = '';

  /** `repos`: repo → file → bytes; files of at least `lfsMinBytes` are served as LFS blobs. */
  constructor(repos: Record<string, Record<string, Buffer>>, lfsMinBytes = 4096) {
    for (const [repo, files] of Object.entries(repos)) {
      for (const [file, bytes] of Object.entries(files)) this.put(repo, file, bytes, bytes.length >= lfsMinBytes);
    }
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.cdnServer = http.createServer((req, res) => this.handle(req, res));
  }

  put(repo: string, file: string, bytes: Buffer, lfs: boolean): Blob {
    const blob: Blob = {
      bytes, lfs,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      gitSha1: createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex'),
    };
    this.files.set(`${repo}/${file}`, blob);
    this.cdn.set(blob.sha256, blob);
    return blob;
  }

  blobOf(repo: string, file: string): Blob {
    const b = this.files.get(`${repo}/${file}`);
    if (!b) throw new Error(`fake hub has no ${repo}/${file}`);
    return b;
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => this.cdnServer.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.cdnBase = `http://127.0.0.1:${(this.cdnServer.address() as AddressInfo).port}`;
    return this.endpoint;
  }

  async stop(): Promise<void> {
    for (const res of this.stalled) res.destroy();
    for (const server of [this.server, this.cdnServer]) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const range = req.headers.range;
    const cdnRequest = req.socket.localPort !== (this.server.address() as AddressInfo).port;
    this.requests.push({ method: req.method ?? '', url: req.url ?? '', range, authorization: req.headers.authorization, cdn: cdnRequest });
    const url = decodeURIComponent(req.url ?? '');
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url);
    if (cdn) {
      const blob = this.cdn.get(cdn[1]!);
      return blob ? this.body(req, res, blob) : this.notFound(res);
    }
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url);
    const blob = m && this.files.get(`${m[1]}/${m[3]}`);
    if (!blob) return this.notFound(res);
    const common = { 'X-Repo-Commit': FAKE_COMMIT, 'Accept-Ranges': 'bytes' };
    if (blob.lfs) {
      res.writeHead(302, {
        ...common, Location: `${this.cdnBase}/cdn/${blob.sha256}`, 'X-Linked-Etag': `"${blob.sha256}"`,
        'X-Linked-Size': String(blob.bytes.length), ETag: `"${blob.gitSha1}"`, 'Content-Length': '0',
      });
      return void res.end();
    }
    res.setHeader('X-Repo-Commit', FAKE_COMMIT);
    res.setHeader('ETag', `"${blob.gitSha1}"`);
    this.body(req, res, blob);
  }

  private notFound(res: http.ServerResponse): void {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('Entry not found');
  }

  private body(req: http.IncomingMessage, res: http.ServerResponse, blob: Blob): void {
    const f = this.faults;
    const size = blob.bytes.length;
    const r = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = r && !f.ignoreRange ? Number(r[1]) : 0;
    if (start > size) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` });
      return void res.end();
    }
    let data = Buffer.from(blob.bytes.subarray(start));
    if (f.corruptAt !== undefined && f.corruptAt >= start && f.corruptAt < size) data.writeUInt8(data.readUInt8(f.corruptAt - start) ^ 0xff, f.corruptAt - start);
    if (f.extraBytes) data = Buffer.concat([data, Buffer.alloc(f.extraBytes, 7)]);
    const headers: http.OutgoingHttpHeaders = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(data.length) };
    if (r && !f.ignoreRange) headers['Content-Range'] = `bytes ${start}-${size - 1}/${size}`;
    res.writeHead(r && !f.ignoreRange ? 206 : 200, headers);
    if (req.method === 'HEAD') return void res.end();
    const cut = f.truncateAfter ?? f.stallAfter;
    if (cut === undefined) return void res.end(data);
    res.write(data.subarray(0, Math.max(0, cut - start)), () => {
      if (f.truncateAfter !== undefined) res.destroy();
      else this.stalled.add(res);
    });
  }
}

/** Deterministic bytes for files that have no fixture copy. */
export function generatedBytes(name: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  let h = createHash('sha256').update(name).digest();
  for (let i = 0; i < length; i += h.length) {
    h.copy(out, i);
    h = createHash('sha256').update(h).digest();
  }
  return out;
}
