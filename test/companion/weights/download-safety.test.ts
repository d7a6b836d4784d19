/**
 * Issue 13 item 8: cache writes never follow symlinks planted in the cache, a download that the disk cannot hold
 * is refused before it starts, and partial files of the wrong size or content are discarded. Against FakeHub.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { downloadFile, type DownloadOptions } from '../../../companion/weights/download';
import { RepoCache } from '../../../companion/weights/hub-layout';
import { FakeHub, generatedBytes } from '../../helpers/fake-hub';

const REPO = 'tiny/safety';
const BIG = 'big.bin';
const bytes = generatedBytes('big', 2 * 1024 * 1024 + 17);

let hub: FakeHub;
let root: string;
let cacheDir: string;
let options: DownloadOptions;
const file = { repo: REPO, revision: 'main', file: BIG };

beforeEach(async () => {
  hub = new FakeHub({ [REPO]: { [BIG]: bytes } });
  await hub.start();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-safety-'));
  cacheDir = path.join(root, 'cache');
  options = { endpoint: hub.endpoint, cacheDir };
});
afterEach(async () => {
  jest.restoreAllMocks();
  await hub.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

/** Downloads once and returns the blob's path, then removes it so the next download starts from nothing. */
async function blobPath(): Promise<string> {
  const snapshot = await downloadFile(file, options);
  const blob = fs.realpathSync(snapshot);
  fs.rmSync(blob);
  return blob;
}

function victim(): string {
  const target = path.join(root, 'victim.txt');
  fs.writeFileSync(target, 'precious');
  return target;
}

test('a symlink planted at blobs/<etag>.incomplete is replaced, never written through', async () => {
  const blob = await blobPath();
  const target = victim();
  fs.symlinkSync(target, `${blob}.incomplete`);
  const snapshot = await downloadFile(file, options);
  expect(fs.readFileSync(target, 'utf8')).toBe('precious');
  expect(fs.readFileSync(snapshot).equals(bytes)).toBe(true);
  expect(fs.lstatSync(blob).isFile()).toBe(true);
});

test('a symlink planted as the blob itself is removed and the real file downloaded', async () => {
  const blob = await blobPath();
  const target = path.join(root, 'same-size.bin');
  fs.writeFileSync(target, Buffer.alloc(bytes.length, 7)); // right size, wrong bytes: would pass a size check
  fs.symlinkSync(target, blob);
  const snapshot = await downloadFile(file, options);
  expect(fs.lstatSync(blob).isFile()).toBe(true);
  expect(fs.readFileSync(snapshot).equals(bytes)).toBe(true);
  expect(fs.readFileSync(target)[0]).toBe(7);
});

test('a partial file longer than the blob is discarded; one with wrong bytes fails the hash and is deleted', async () => {
  const blob = await blobPath();
  fs.writeFileSync(`${blob}.incomplete`, Buffer.alloc(bytes.length + 5));
  expect(fs.readFileSync(await downloadFile(file, options)).equals(bytes)).toBe(true);
  fs.rmSync(blob);
  fs.writeFileSync(`${blob}.incomplete`, Buffer.alloc(1000, 1)); // a prefix that is not the file's
  await expect(downloadFile(file, options)).rejects.toThrow(/does not match the hub's/);
  expect(fs.existsSync(`${blob}.incomplete`)).toBe(false);
  expect(fs.readFileSync(await downloadFile(file, options)).equals(bytes)).toBe(true);
});

test('without the free space for the file the download is refused before it starts, with a clear message', async () => {
  const blob = await blobPath();
  const requestsBefore = hub.requests.filter((r) => r.method === 'GET').length;
  const real = fs.statfsSync;
  // The disk is the only stand-in here: statfs reports one free block (the module object, not tsc's import copy).
  jest.spyOn(require('node:fs') as typeof fs, 'statfsSync').mockImplementation(((p: fs.PathLike) => ({ ...real(p), bavail: 1, bsize: 4096 })) as typeof fs.statfsSync);
  await expect(downloadFile(file, options)).rejects.toThrow(/needs 0\.00 GB.*free/);
  expect(hub.requests.filter((r) => r.method === 'GET').length).toBe(requestsBefore);
  expect(fs.existsSync(blob)).toBe(false);
  expect(fs.existsSync(`${blob}.incomplete`)).toBe(false);
});

test('the ref file is written through a fresh temporary file even if a symlink sits at its temporary name', async () => {
  const cache = new RepoCache(cacheDir, REPO);
  const target = victim();
  fs.mkdirSync(path.dirname(cache.refPath('main')), { recursive: true });
  fs.symlinkSync(target, `${cache.refPath('main')}.${process.pid}.tmp`);
  await downloadFile(file, options);
  expect(fs.readFileSync(target, 'utf8')).toBe('precious');
  expect(fs.lstatSync(cache.refPath('main')).isFile()).toBe(true);
});
