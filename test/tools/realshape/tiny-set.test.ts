/**
 * tools/realshape end to end on a scaled-down set: the real file layout of DEFAULT_MODELS, but with manifests,
 * configs and the adapter structure taken from the tiny fixture models (test/fixtures/sdxl-tiny, ip-adapter-tiny),
 * so nothing large is written. Checks the hub cache layout against the project's own readers (`models list`,
 * safetensors.ts, torch-bin.ts, adapter.ts, serve's engine), determinism, and resuming after an interruption.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { createEngine } from '../../../companion/engine/engine-factory';
import { openStyleAdapter } from '../../../companion/models/adapter';
import { DEFAULT_MODELS } from '../../../companion/weights/default-models';
import { RepoCache } from '../../../companion/weights/hub-layout';
import { modelStatuses } from '../../../companion/weights/model-catalog';
import { readSafetensors } from '../../../companion/weights/safetensors';
import { readTorchBin } from '../../../companion/weights/torch-bin';
import { generateSet, type GenerateOptions, type GenerateResult } from '../../../tools/realshape/generate';
import type { SetSources } from '../../../tools/realshape/plan';
import { verifySet } from '../../../tools/realshape/verify';
import { fixture, repoRoot } from '../../helpers/paths';
import { generateTinyJob } from '../../helpers/tiny-job';

/** The tiny fixture file standing in for each file of the default set. */
const FIXTURE_FOR: Record<string, (file: string) => string> = {
  'sdxl-base': (f) => fixture('sdxl-tiny', ...f.split('/')),
  'sdxl-vae-fp16-fix': (f) => fixture('sdxl-tiny', 'vae', f),
  'csgo-adapter': () => fixture('ip-adapter-tiny', 'csgo', 'csgo_tiny.bin'),
  'image-encoder': (f) => fixture('ip-adapter-tiny', ...f.split('/')),
};

/** tools/realshape sources describing the tiny models: manifests and the structure read from the fixtures' headers. */
function writeTinySources(root: string): SetSources {
  const sources = { configsDir: path.join(root, 'configs'), manifestsDir: path.join(root, 'manifests'), vocabDir: path.join(root, 'vocab') };
  fs.mkdirSync(sources.vocabDir, { recursive: true });
  for (const spec of DEFAULT_MODELS) {
    const repoDir = spec.repo.replace('/', '--');
    for (const { path: file } of spec.files) {
      const src = FIXTURE_FOR[spec.id]!(file);
      const base = path.basename(file);
      if (file.endsWith('.safetensors')) {
        const tensors = [...readSafetensors(src).tensors.values()].map((t) => [t.key, t.shape, t.dtype]);
        const json = Buffer.from(JSON.stringify({ repo: spec.repo, file, tensors }));
        const out = path.join(sources.manifestsDir, repoDir, ...file.split('/'));
        fs.mkdirSync(path.dirname(out), { recursive: true });
        // both forms the tool reads: gzipped for the UNet, plain for the others
        if (file.startsWith('unet/')) fs.writeFileSync(`${out}.json.gz`, gzipSync(json));
        else fs.writeFileSync(`${out}.json`, json);
      } else if (file.endsWith('.bin')) {
        const groups: Record<string, { dtype: string; shapes: Record<string, readonly number[]> }> = {};
        for (const t of readTorchBin(src).tensors.values()) {
          const [group, ...rest] = t.key.split('.');
          const g = (groups[group!] ??= { dtype: t.dtype, shapes: {} });
          expect(t.dtype).toBe(g.dtype);
          g.shapes[rest.join('.')] = t.shape;
        }
        fs.writeFileSync(path.join(sources.configsDir, `${base.slice(0, -4)}.structure.json`), JSON.stringify({ top_level_keys: Object.keys(groups), groups }));
      } else if (base === 'vocab.json' || base === 'merges.txt') {
        fs.copyFileSync(src, path.join(sources.vocabDir, base));
      } else {
        const out = path.join(sources.configsDir, repoDir, ...file.split('/'));
        fs.mkdirSync(path.dirname(out), { recursive: true });
        fs.copyFileSync(src, out);
      }
    }
  }
  return sources;
}

let root: string;
let sources: SetSources;
let cleanDir: string;
let clean: GenerateResult;
const logs: string[] = [];

function run(cacheDir: string, extra: Partial<GenerateOptions> = {}): GenerateResult {
  return generateSet({ cacheDir, seed: 7, sources, log: (l) => logs.push(l), ...extra });
}

/** Every file of the set as blob name by snapshot path, relative to the cache. */
function blobs(cacheDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of DEFAULT_MODELS) {
    const cache = new RepoCache(cacheDir, spec.repo);
    for (const f of spec.files) {
      const p = cache.findFile(spec.revision, f.path);
      out[`${spec.id}/${f.path}`] = p === undefined ? 'missing' : path.basename(fs.realpathSync(p));
    }
  }
  return out;
}

function partials(cacheDir: string): string[] {
  return DEFAULT_MODELS.flatMap((spec) => {
    const dir = path.join(new RepoCache(cacheDir, spec.repo).dir, 'blobs');
    return fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.incomplete')) : [];
  });
}

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'realshape-tiny-'));
  sources = writeTinySources(path.join(root, 'sources'));
  cleanDir = path.join(root, 'clean');
  clean = run(cleanDir);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

test('the hub cache layout of `models pull`: models list finds all four; blobs named by content hash; relative snapshot links', () => {
  expect(modelStatuses(cleanDir).map((s) => [s.spec.id, s.present])).toEqual(DEFAULT_MODELS.map((m) => [m.id, true]));
  const listed = JSON.parse(execFileSync(process.execPath, [path.join(repoRoot, 'dist', 'companion', 'cli.js'), 'models', 'list', '--models', cleanDir, '--json'], { encoding: 'utf8' }));
  expect(listed.models.map((m: { id: string; present: boolean }) => [m.id, m.present])).toEqual(DEFAULT_MODELS.map((m) => [m.id, true]));

  expect(clean.files).toHaveLength(DEFAULT_MODELS.reduce((n, m) => n + m.files.length, 0));
  for (const model of clean.models) {
    const cache = new RepoCache(cleanDir, model.spec.repo);
    expect(fs.readFileSync(cache.refPath('main'), 'utf8')).toBe(model.commit);
    for (const file of model.files) {
      const snapshot = cache.snapshotPath(model.commit, file.path);
      const link = fs.readlinkSync(snapshot);
      expect(path.isAbsolute(link)).toBe(false);
      expect(path.resolve(path.dirname(snapshot), link)).toBe(path.join(cache.dir, 'blobs', path.basename(link)));
      const bytes = fs.readFileSync(snapshot);
      expect(bytes.length).toBe(file.content.size);
      const id = file.lfs
        ? createHash('sha256').update(bytes).digest('hex')
        : createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
      expect(path.basename(link)).toBe(id);
      expect(file.lfs).toBe(/\.(safetensors|bin)$/.test(file.path));
    }
  }
  expect(partials(cleanDir)).toEqual([]);
});

test('weight files hold exactly the fixtures\' tensor names, shapes and dtypes in order; configs are copied as they are', () => {
  for (const spec of DEFAULT_MODELS) {
    const cache = new RepoCache(cleanDir, spec.repo);
    for (const { path: file } of spec.files) {
      const ours = cache.findFile(spec.revision, file)!;
      const theirs = FIXTURE_FOR[spec.id]!(file);
      const describe = (tensors: Iterable<{ key: string; shape: readonly number[]; dtype: string }>) => [...tensors].map((t) => `${t.key} ${t.dtype} [${t.shape.join(',')}]`);
      if (file.endsWith('.safetensors')) {
        const st = readSafetensors(ours);
        expect(describe(st.tensors.values())).toEqual(describe(readSafetensors(theirs).tensors.values()));
        expect(st.metadata).toEqual({ format: 'pt', stylestudio_realshape: 'random weights (tools/realshape), seed 7' });
      } else if (file.endsWith('.bin')) {
        expect(describe(readTorchBin(ours).tensors.values())).toEqual(describe(readTorchBin(theirs).tensors.values()));
      } else if (path.basename(file) === 'vocab.json') {
        expect(JSON.parse(fs.readFileSync(ours, 'utf8'))).toEqual(JSON.parse(fs.readFileSync(theirs, 'utf8')));
        expect(fs.readFileSync(ours, 'utf8')).toMatch(/^\{\n {2}"[^\n]+": \d+,\n/); // transformers' indent=2 form
      } else {
        expect(fs.readFileSync(ours).equals(fs.readFileSync(theirs))).toBe(true);
      }
    }
  }
  const report = verifySet(cleanDir, clean.models);
  expect(report.problems).toEqual([]);
  expect(report.checkedFiles).toBe(clean.files.length);
});

test('the adapter opens as CSGO with our reader, and the values are at the planned scale', () => {
  const cache = new RepoCache(cleanDir, 'InstantX/CSGO');
  const file = cache.findFile('main', 'csgo_4_32.bin')!;
  const unetConfig = JSON.parse(fs.readFileSync(fixture('sdxl-tiny', 'unet', 'config.json'), 'utf8')) as { cross_attention_dim: number };
  const adapter = openStyleAdapter(file, unetConfig.cross_attention_dim);
  expect(adapter.kind).toBe('csgo');
  const w = readTorchBin(file).tensors.get('style_image_proj.proj_in.weight')!;
  expect(w.dtype).toBe('F16');
  const bytes = fs.readFileSync(file).subarray(w.offset, w.offset + w.length);
  const bound = 1 / Math.sqrt(w.shape[1]!);
  let max = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    const h = bytes.readUInt16LE(i);
    const v = (h & 0x7c00) === 0 ? (h & 0x3ff) * 2 ** -24 : (1 + (h & 0x3ff) / 1024) * 2 ** (((h >> 10) & 0x1f) - 15);
    max = Math.max(max, v);
  }
  expect(max).toBeLessThanOrEqual(bound * (1 + 2 ** -11));
  expect(max).toBeGreaterThan(bound * 0.8);
});

test('seeded: the same seed gives the same blobs, another seed other weights but the same configs', () => {
  const again = path.join(root, 'again');
  run(again);
  expect(blobs(again)).toEqual(blobs(cleanDir));
  const other = path.join(root, 'other-seed');
  run(other, { seed: 8 });
  const a = blobs(cleanDir);
  const b = blobs(other);
  for (const key of Object.keys(a)) {
    if (/\.(safetensors|bin)$/.test(key)) expect(b[key]).not.toBe(a[key]);
    else expect(b[key]).toBe(a[key]);
  }
});

test('resumable: an interrupted file is rewritten from scratch, complete files are skipped', () => {
  const dir = path.join(root, 'resume');
  const interrupted = 'unet/diffusion_pytorch_model.fp16.safetensors';
  expect(() => run(dir, {
    onBytes: (_model, file, soFar) => {
      if (file === interrupted && soFar > 1000) throw new Error('simulated interruption');
    },
  })).toThrow('simulated interruption');
  const before = blobs(dir);
  const sdxl = DEFAULT_MODELS[0]!;
  const order = sdxl.files.map((f) => f.path);
  const cut = order.indexOf(interrupted);
  for (const [i, f] of order.entries()) expect(before[`sdxl-base/${f}`] === 'missing').toBe(i >= cut);
  expect(partials(dir)).toHaveLength(1);
  expect(fs.existsSync(path.join(dir, '.locks', 'realshape.lock'))).toBe(false);

  const resumed = run(dir);
  expect(resumed.files.filter((f) => f.action === 'skipped').map((f) => f.path)).toEqual(order.slice(0, cut));
  expect(blobs(dir)).toEqual(blobs(cleanDir));
  expect(partials(dir)).toEqual([]);

  // a complete-looking snapshot whose blob has the wrong size (e.g. truncated) is written again; nothing else is
  const vae = new RepoCache(dir, 'madebyollin/sdxl-vae-fp16-fix').findFile('main', 'diffusion_pytorch_model.safetensors')!;
  fs.truncateSync(fs.realpathSync(vae), 100);
  const third = run(dir);
  expect(third.files.filter((f) => f.action === 'written').map((f) => `${f.model}/${f.path}`)).toEqual(['sdxl-vae-fp16-fix/diffusion_pytorch_model.safetensors']);
  expect(blobs(dir)).toEqual(blobs(cleanDir));
  expect(logs.some((l) => /^realshape: wrote 1 files \(.*\), skipped \d+ complete, in [\d.]+ s$/.test(l))).toBe(true);
});

test('a second run into the same folder at the same time is refused', () => {
  const dir = path.join(root, 'locked');
  fs.mkdirSync(path.join(dir, '.locks'), { recursive: true });
  fs.writeFileSync(path.join(dir, '.locks', 'realshape.lock'), String(process.ppid));
  expect(() => run(dir)).toThrow(/another realshape run \(pid \d+\)/);
  fs.writeFileSync(path.join(dir, '.locks', 'realshape.lock'), '999999999'); // a dead process's lock is taken over
  expect(() => run(dir, { only: ['image-encoder'] })).not.toThrow();
});

test('the CLI: progress and summary lines, --only, --verify, clear errors', () => {
  const cli = path.join(repoRoot, 'dist', 'tools', 'realshape', 'cli.js');
  const src = ['--configs', sources.configsDir, '--manifests', sources.manifestsDir, '--vocab', sources.vocabDir];
  const dir = path.join(root, 'cli');
  const ok = spawnSync(process.execPath, [cli, '--out', dir, '--seed', '7', '--only', 'csgo-adapter,image-encoder', ...src], { encoding: 'utf8' });
  expect(ok.status).toBe(0);
  expect(ok.stdout).toMatch(/^realshape: seed 7, 2 models, 3 files, [\d.]+ [kMG]?B into /);
  expect(ok.stdout).toMatch(/\[1\/3\] csgo-adapter csgo_4_32\.bin: written /);
  expect(ok.stdout).toMatch(/realshape: wrote 3 files .*, skipped 0 complete, in [\d.]+ s\n$/);
  const verify = spawnSync(process.execPath, [cli, '--out', dir, '--seed', '7', '--only', 'csgo-adapter,image-encoder', '--verify', ...src], { encoding: 'utf8' });
  expect([verify.status, verify.stdout]).toEqual([0, expect.stringMatching(/realshape verify: 3 files, \d+ tensors, 0 problems/)]);
  const wrongSeed = spawnSync(process.execPath, [cli, '--out', dir, '--seed', '8', '--only', 'csgo-adapter', '--verify', ...src], { encoding: 'utf8' });
  expect(wrongSeed.status).toBe(1);
  expect(wrongSeed.stderr).toMatch(/csgo-adapter: refs\/main is [0-9a-f]{40}, planned [0-9a-f]{40}/);

  const noOut = spawnSync(process.execPath, [cli], { encoding: 'utf8' });
  expect([noOut.status, noOut.stderr]).toEqual([2, expect.stringContaining('--out DIR is required')]);
  const badSeed = spawnSync(process.execPath, [cli, '--out', dir, '--seed', '-1'], { encoding: 'utf8' });
  expect(badSeed.status).toBe(2);
  const unknown = spawnSync(process.execPath, [cli, '--out', dir, '--only', 'sdxl-refiner', ...src], { encoding: 'utf8' });
  expect([unknown.status, unknown.stderr]).toEqual([1, expect.stringContaining('unknown model sdxl-refiner; known: sdxl-base, sdxl-vae-fp16-fix, csgo-adapter, image-encoder')]);
});

test('serve\'s engine opens the generated set and generates a StyleStudio image with it', async () => {
  const engine = createEngine({ models: modelStatuses(cleanDir), cacheDir: cleanDir });
  try {
    for (let i = 0; i < 4800 && !engine.status().ready; i++) {
      if (engine.status().reason !== 'loading the models') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(engine.status()).toMatchObject({ ready: true, provider: 'cpu' });
    const images = await generateTinyJob(engine);
    expect(images).toHaveLength(1);
    expect(images[0]!.image).toMatchObject({ width: 64, height: 64 });
  } finally {
    await engine.close();
  }
}, 180_000);
