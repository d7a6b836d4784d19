/** downloadFile against a real HTTP server on loopback (FakeHub) that misbehaves on purpose. */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { downloadFile, normalizeEtag, type DownloadOptions } from '../../../companion/weights/download';
import { hubCacheDir } from '../../../companion/weights/hub-cache';
import { hubEndpoint, modelsCacheDir, RepoCache } from '../../../companion/weights/hub-layout';
import { FAKE_COMMIT, FakeHub, generatedBytes } from '../../helpers/fake-hub';
import { fixture } from '../../helpers/paths';

const REPO = 'tiny/sdxl';
const WEIGHTS = 'text_encoder/model.fp16.safetensors';
const CONFIG = 'text_encoder/config.json';
const weights = fs.readFileSync(fixture('server', 'hub', 'sdxl-tiny', WEIGHTS));
const config = fs.readFileSync(fixture('server', 'hub', 'sdxl-tiny', CONFIG));

let hub: FakeHub;
let cacheDir: string;
let options: DownloadOptions;
const file = (f: string) => ({ repo: REPO, revision: 'main', file: f });
const repoCache = () => new RepoCache(cacheDir, REPO);

beforeEach(async () => {
  hub = new FakeHub({ [REPO]: { [WEIGHTS]: weights, [CONFIG]: config, 'big.bin': generatedBytes('big', 3 * 1024 * 1024) } });
  await hub.start();
  cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-hub-'));
  options = { endpoint: hub.endpoint, cacheDir };
});
afterEach(async () => {
  await hub.stop();
  fs.rmSync(cacheDir, { recursive: true, force: true });
});

/** Every file under the repo's cache folder, relative, with symlink targets. */
function listing(): string[] {
  const root = repoCache().dir;
  const out: string[] = [];
  const walk = (dir: string): void => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(root, p) + (e.isSymbolicLink() ? ` -> ${fs.readlinkSync(p)}` : ''));
    }
  };
  walk(root);
  return out.sort();
}

test('LFS and small files land in the hub cache layout: blobs named by etag, relative snapshot links, refs/main', async () => {
  const received: number[] = [];
  const p1 = await downloadFile(file(WEIGHTS), { ...options, onProgress: (r) => received.push(r) });
  const p2 = await downloadFile(file(CONFIG), options);
  const lfs = hub.blobOf(REPO, WEIGHTS);
  const small = hub.blobOf(REPO, CONFIG);
  expect(listing()).toEqual([
    `blobs/${small.gitSha1}`,
    `blobs/${lfs.sha256}`,
    'refs/main',
    `snapshots/${FAKE_COMMIT}/${CONFIG} -> ../../../blobs/${small.gitSha1}`,
    `snapshots/${FAKE_COMMIT}/${WEIGHTS} -> ../../../blobs/${lfs.sha256}`,
  ]);
  expect(fs.readFileSync(p1).equals(weights)).toBe(true);
  expect(fs.readFileSync(p2).equals(config)).toBe(true);
  expect(fs.readFileSync(path.join(repoCache().dir, 'refs', 'main'), 'utf8')).toBe(FAKE_COMMIT);
  expect(received[received.length - 1]).toBe(weights.length);
  expect(repoCache().findFile('main', WEIGHTS)).toBe(p1);
});

test('a blob already in the cache is not downloaded again', async () => {
  await downloadFile(file(WEIGHTS), options);
  const gets = () => hub.requests.filter((r) => r.method === 'GET').length;
  const before = gets();
  await downloadFile(file(WEIGHTS), options);
  expect(gets()).toBe(before);
});

test('a truncated response leaves no blob and no snapshot; the next run resumes with Range and completes', async () => {
  hub.faults = { truncateAfter: 40_000 };
  await expect(downloadFile(file(WEIGHTS), options)).rejects.toThrow(/of 107704 bytes.*resume/);
  const partial = `${repoCache().blobPath(hub.blobOf(REPO, WEIGHTS).sha256)}.incomplete`;
  expect(listing()).toEqual([`blobs/${hub.blobOf(REPO, WEIGHTS).sha256}.incomplete`]);
  expect(fs.statSync(partial).size).toBe(40_000);
  hub.faults = {};
  const p = await downloadFile(file(WEIGHTS), options);
  expect(hub.requests.filter((r) => r.method === 'GET').map((r) => r.range)).toEqual([undefined, 'bytes=40000-']);
  expect(fs.readFileSync(p).equals(weights)).toBe(true);
});

test('a corrupted byte fails the sha256 check: nothing is kept', async () => {
  hub.faults = { corruptAt: 5000 };
  await expect(downloadFile(file(WEIGHTS), options)).rejects.toThrow(/does not match the hub's/);
  expect(listing()).toEqual([]);
});

test('a corrupted small file fails the git blob sha1 check', async () => {
  hub.faults = { corruptAt: 3 };
  await expect(downloadFile(file(CONFIG), options)).rejects.toThrow(/does not match the hub's/);
  expect(listing()).toEqual([]);
});

test('bytes beyond the announced size are refused and nothing is kept', async () => {
  hub.faults = { extraBytes: 10 };
  await expect(downloadFile(file(WEIGHTS), options)).rejects.toThrow(/more than the announced/);
  expect(listing()).toEqual([]);
});

test('a corrupt partial file from an earlier run is caught by the hash and deleted; the retry succeeds', async () => {
  const blob = repoCache().blobPath(hub.blobOf(REPO, WEIGHTS).sha256);
  fs.mkdirSync(path.dirname(blob), { recursive: true });
  fs.writeFileSync(`${blob}.incomplete`, Buffer.alloc(1000, 0xee));
  await expect(downloadFile(file(WEIGHTS), options)).rejects.toThrow(/does not match/);
  expect(listing()).toEqual([]);
  expect(fs.readFileSync(await downloadFile(file(WEIGHTS), options)).equals(weights)).toBe(true);
});

test('a server that ignores Range makes the download start over, correctly', async () => {
  hub.faults = { truncateAfter: 30_000 };
  await expect(downloadFile(file(WEIGHTS), options)).rejects.toThrow();
  hub.faults = { ignoreRange: true };
  expect(fs.readFileSync(await downloadFile(file(WEIGHTS), options)).equals(weights)).toBe(true);
});

test('resume after the downloading process was killed (SIGKILL) mid-transfer', async () => {
  hub.faults = { stallAfter: 1024 * 1024 + 123 };
  const child = spawn(process.execPath, [path.join(__dirname, '../../helpers/download-child.js'), JSON.stringify({ file: file('big.bin'), options })], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(`RECEIVED ${1024 * 1024 + 123}`)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`child exited early (${code}): ${out}`)));
  });
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  const sha = hub.blobOf(REPO, 'big.bin').sha256;
  expect(listing()).toEqual([`blobs/${sha}.incomplete`, `blobs/${sha}.lock`]); // the dead process's lock stays behind
  hub.faults = {};
  const p = await downloadFile(file('big.bin'), options);
  expect(hub.requests.filter((r) => r.method === 'GET').map((r) => r.range)).toEqual([undefined, `bytes=${1024 * 1024 + 123}-`]);
  expect(fs.readFileSync(p).equals(hub.blobOf(REPO, 'big.bin').bytes)).toBe(true);
  expect(listing()).toEqual([`blobs/${sha}`, 'refs/main', `snapshots/${FAKE_COMMIT}/big.bin -> ../../blobs/${sha}`]);
});

test('a missing file is an error naming it; nothing is created', async () => {
  await expect(downloadFile(file('nope.bin'), options)).rejects.toThrow(`${REPO}/nope.bin: not found`);
  expect(listing()).toEqual([]);
});

test('unsafe file names never become paths', async () => {
  await expect(downloadFile(file('../escape.bin'), options)).rejects.toThrow('invalid file path');
  await expect(downloadFile({ repo: '../x', revision: 'main', file: 'a' }, options)).rejects.toThrow('invalid repository name');
});

test('the token goes to the hub but not to the CDN redirect', async () => {
  await downloadFile(file(WEIGHTS), { ...options, token: 'hf_secret' });
  expect(hub.requests.map((r) => [r.method, r.cdn, r.authorization])).toEqual([
    ['HEAD', false, 'Bearer hf_secret'],
    ['GET', true, undefined],
  ]);
});

test('etags are normalised like huggingface_hub does', () => {
  expect(normalizeEtag('W/"abc"')).toBe('abc');
  expect(normalizeEtag('"abc"')).toBe('abc');
  expect(normalizeEtag(undefined)).toBeUndefined();
});

test('cache location and endpoint follow the hub environment variables', () => {
  expect(modelsCacheDir('/explicit')).toBe('/explicit');
  expect(modelsCacheDir(undefined)).toBe(hubCacheDir());
  expect(hubEndpoint({})).toBe('https://huggingface.co');
  expect(hubEndpoint({ HF_ENDPOINT: 'http://127.0.0.1:9/' })).toBe('http://127.0.0.1:9');
});
