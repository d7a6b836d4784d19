import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openDiffusersFolder } from '../../../companion/weights/diffusers';
import { WeightFileError } from '../../../companion/weights/errors';
import { hubCacheDir, resolveHubSnapshot, resolveModelLocation } from '../../../companion/weights/hub-cache';
import { fixture } from '../../helpers/paths';
import { tempDir } from './safetensors-writer';

const COMMIT = 'a'.repeat(40);
const OLD_COMMIT = 'b'.repeat(40);
let cache: string;
let repoDir: string;

/** Builds models--org--name the way huggingface_hub does: blobs named by sha256, snapshot files as relative symlinks. */
function addSnapshot(commit: string, files: string[]): void {
  for (const rel of files) {
    const content = fs.readFileSync(fixture('sdxl-tiny', rel));
    const sha = crypto.createHash('sha256').update(content).digest('hex');
    const blob = path.join(repoDir, 'blobs', sha);
    fs.mkdirSync(path.dirname(blob), { recursive: true });
    if (!fs.existsSync(blob)) fs.writeFileSync(blob, content);
    const link = path.join(repoDir, 'snapshots', commit, rel);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.relative(path.dirname(link), blob), link);
  }
}

beforeAll(() => {
  cache = tempDir('hub');
  repoDir = path.join(cache, 'models--org--sdxl-tiny');
  addSnapshot(COMMIT, ['model_index.json', 'text_encoder/config.json', 'text_encoder/model.safetensors',
    'text_encoder/model.fp16.safetensors', 'tokenizer/vocab.json', 'tokenizer/merges.txt']);
  addSnapshot(OLD_COMMIT, ['model_index.json', 'text_encoder/config.json', 'text_encoder/model.safetensors']);
  fs.mkdirSync(path.join(repoDir, 'refs'));
  fs.writeFileSync(path.join(repoDir, 'refs', 'main'), COMMIT); // huggingface_hub writes no newline
  fs.writeFileSync(path.join(repoDir, 'refs', 'v1'), `${OLD_COMMIT}\n`);
});
afterAll(() => {
  fs.rmSync(cache, { recursive: true, force: true });
});

describe('hubCacheDir', () => {
  const home = '/home/u';
  test.each([
    [{ HF_HUB_CACHE: '/c/hub', HF_HOME: '/h' }, '/c/hub'],
    [{ HUGGINGFACE_HUB_CACHE: '/legacy' }, '/legacy'],
    [{ HF_HOME: '/h', XDG_CACHE_HOME: '/x' }, '/h/hub'],
    [{ HF_HOME: '~/hf' }, '/home/u/hf/hub'],
    [{ XDG_CACHE_HOME: '/x' }, '/x/huggingface/hub'],
    [{}, '/home/u/.cache/huggingface/hub'],
    [{ HF_HUB_CACHE: '' }, '/home/u/.cache/huggingface/hub'],
  ])('%j → %s', (env, expected) => {
    expect(hubCacheDir(env, home)).toBe(expected);
  });
});

describe('resolveHubSnapshot', () => {
  test('refs/main → snapshots/<commit>; weights resolve to the blobs behind the symlinks', () => {
    const snap = resolveHubSnapshot('org/sdxl-tiny', { cacheDir: cache });
    expect(snap).toEqual({ repoId: 'org/sdxl-tiny', commit: COMMIT, dir: path.join(repoDir, 'snapshots', COMMIT) });

    const te = openDiffusersFolder(snap.dir).component('text_encoder');
    expect(te.config().hidden_size).toBe(32);
    for (const variant of [undefined, 'fp16'] as const) {
      const choice = te.weights({ variant });
      const store = choice.open();
      // transformers 5 saved this tiny CLIPTextModel without the "text_model." prefix real SDXL files carry.
      const ref = store.tensor('final_layer_norm.weight', [32]);
      // The ref points into the blob (realpath), never through the snapshot symlink.
      expect(path.dirname(ref.file)).toBe(fs.realpathSync(path.join(repoDir, 'blobs')));
      expect(fs.lstatSync(ref.file).isSymbolicLink()).toBe(false);
      const fromBlob = Buffer.alloc(ref.length);
      const fd = fs.openSync(ref.file, 'r');
      fs.readSync(fd, fromBlob, 0, ref.length, ref.offset);
      fs.closeSync(fd);
      const original = fs.readFileSync(fixture('sdxl-tiny', 'text_encoder', path.basename(choice.file)));
      expect(fromBlob.equals(original.subarray(ref.offset, ref.offset + ref.length))).toBe(true);
    }
  });

  test('a tag and a commit hash select other snapshots', () => {
    expect(resolveHubSnapshot('org/sdxl-tiny', { cacheDir: cache, revision: 'v1' }).commit).toBe(OLD_COMMIT);
    expect(resolveHubSnapshot('org/sdxl-tiny', { cacheDir: cache, revision: OLD_COMMIT }).dir)
      .toBe(path.join(repoDir, 'snapshots', OLD_COMMIT));
  });

  test('the cache folder comes from the environment when not given', () => {
    const saved = process.env.HF_HUB_CACHE;
    process.env.HF_HUB_CACHE = cache;
    try {
      expect(resolveHubSnapshot('org/sdxl-tiny').commit).toBe(COMMIT);
      expect(resolveModelLocation('org/sdxl-tiny')).toBe(path.join(repoDir, 'snapshots', COMMIT));
    } finally {
      if (saved === undefined) delete process.env.HF_HUB_CACHE;
      else process.env.HF_HUB_CACHE = saved;
    }
  });

  test('a local folder is used as is', () => {
    expect(resolveModelLocation(fixture('sdxl-tiny'))).toBe(fixture('sdxl-tiny'));
  });

  test('errors name the path and the problem', () => {
    expect(() => resolveHubSnapshot('org/other', { cacheDir: cache })).toThrow(
      new WeightFileError(path.join(cache, 'models--org--other'), 'org/other is not in the Hugging Face cache (download it first)'));
    expect(() => resolveHubSnapshot('org/sdxl-tiny', { cacheDir: cache, revision: 'fp16' })).toThrow(
      `${path.join(repoDir, 'refs', 'fp16')}: revision "fp16" of org/sdxl-tiny is not in the cache (cached snapshots: ${COMMIT}, ${OLD_COMMIT})`);
    expect(() => resolveHubSnapshot('org/sdxl-tiny', { cacheDir: cache, revision: 'c'.repeat(40) })).toThrow(
      `snapshot ${'c'.repeat(40)} of org/sdxl-tiny (revision "${'c'.repeat(40)}") is not in the cache`);
    expect(() => resolveHubSnapshot('../etc', { cacheDir: cache })).toThrow('../etc: not a Hugging Face repo id (expected "org/name")');
    expect(() => resolveHubSnapshot('org/x', { cacheDir: path.join(cache, 'nope') })).toThrow(
      `${path.join(cache, 'nope')}: Hugging Face cache folder not found (looking for org/x; set HF_HUB_CACHE or HF_HOME, or give the model folder path)`);
    expect(() => resolveModelLocation('/no/such/folder')).toThrow('/no/such/folder: model folder not found');
    expect(() => resolveModelLocation('models/sdxl', { cacheDir: cache })).toThrow(
      `models/sdxl: no such model folder, and not usable as a Hugging Face repo id: ${path.join(cache, 'models--models--sdxl')}: ` +
      'models/sdxl is not in the Hugging Face cache (download it first)');
  });

  test('a ref file that does not hold a commit hash', () => {
    fs.writeFileSync(path.join(repoDir, 'refs', 'broken'), 'oops');
    expect(() => resolveHubSnapshot('org/sdxl-tiny', { cacheDir: cache, revision: 'broken' })).toThrow(
      `${path.join(repoDir, 'refs', 'broken')}: expected a 40-hex commit hash, found "oops"`);
  });

  test('a snapshot file whose blob is gone (interrupted download)', () => {
    const dir = path.join(repoDir, 'snapshots', OLD_COMMIT, 'text_encoder');
    fs.symlinkSync('../../../blobs/deadbeef', path.join(dir, 'model.fp16.safetensors'));
    const w = openDiffusersFolder(path.join(repoDir, 'snapshots', OLD_COMMIT)).component('text_encoder').weights({ variant: 'fp16' });
    // existsSync follows the dangling link and says no, so the full-precision file is chosen with a note.
    expect(w.note).toBe('text_encoder: no fp16 variant weights, using full precision model.safetensors');
  });
});
