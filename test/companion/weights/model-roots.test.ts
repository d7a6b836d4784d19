/**
 * ComfyUI and AUTOMATIC1111 folders as users have them (subfolders, symlinks, files of other kinds, broken files):
 * what is found, what is refused with which code, `--checkpoint NAME` resolution, tokenizer sources, and the real
 * CLI: `models list --model-root` and `generate --checkpoint NAME` giving the same latents as `--model DIR`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readNpy, writeNpy } from '../../../companion/pipeline/npy';
import { findModel, modelRoots, scanModelRoot } from '../../../companion/weights/model-roots';
import { resolveModelSource, resolveStyleFiles } from '../../../companion/weights/model-source';
import { builtinConfigDir } from '../../../companion/weights/single-file';
import { fixture, repoRoot } from '../../helpers/paths';
import { writeOriginalCheckpoint } from './ldm-checkpoint-writer';
import { buildSafetensors, f32, sparseFromManifest, tempDir } from './safetensors-writer';
import { codeOf } from '../../helpers/error-code';

const TINY = fixture('sdxl-tiny');
const SD = (...p: string[]) => fixture('ip-adapter-tiny', 'sdxl_models', ...p);
const CLI = path.join(repoRoot, 'dist', 'companion', 'cli.js');

let dir: string;
let comfy: string;
let a1111: string;
let ckpt: string;
const one = { dtype: 'F32', shape: [1], data: f32(1) };

function file(p: string, content: Buffer | string = ''): string {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
  return p;
}

function link(target: string, p: string): void {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.symlinkSync(target, p);
}

beforeAll(() => {
  dir = tempDir('model-roots');
  ckpt = writeOriginalCheckpoint(TINY, path.join(dir, 'tiny-sdxl.safetensors'));
  comfy = path.join(dir, 'ComfyUI');
  const m = (...p: string[]) => path.join(comfy, 'models', ...p);
  link(ckpt, m('checkpoints', 'sdxl', 'tiny.safetensors')); // a symlink into another disk, in a subfolder
  file(m('checkpoints', 'sd15.safetensors'), buildSafetensors({ 'cond_stage_model.transformer.x': one, 'model.diffusion_model.out.2.bias': one }));
  file(m('checkpoints', 'old.ckpt'), 'pickle');
  file(m('checkpoints', 'truncated.safetensors'), Buffer.from([1, 2, 3]));
  link(path.join(dir, 'gone.safetensors'), m('checkpoints', 'broken.safetensors'));
  file(m('checkpoints', 'put_checkpoints_here'));
  file(m('checkpoints', 'tiny.yaml'), 'model: {}');
  link(m('checkpoints'), m('checkpoints', 'sdxl', 'loop'));
  link(SD('ip-adapter_sdxl.safetensors'), m('ipadapter', 'ip-adapter_sdxl.safetensors'));
  file(m('ipadapter', 'not-an-adapter.safetensors'), buildSafetensors({ 'lora_unet.alpha': one }));
  link(SD('image_encoder', 'model.safetensors'), m('clip_vision', 'CLIP-ViT-tiny.safetensors')); // no built-in config fits
  sparseFromManifest(path.join(repoRoot, 'tools', 'realshape', 'manifests', 'h94--IP-Adapter', 'sdxl_models', 'image_encoder', 'model.safetensors.json.gz'),
    file(m('clip_vision', 'CLIP-ViT-bigG-14-laion2B-39B-b160k.safetensors')));
  file(m('clip_vision', 'clip_h.pth'), 'pickle');

  a1111 = path.join(dir, 'stable-diffusion-webui');
  const a = (...p: string[]) => path.join(a1111, ...p);
  link(ckpt, a('models', 'Stable-diffusion', 'tiny.safetensors'));
  link(SD('ip-adapter_sdxl.bin'), a('models', 'ControlNet', 'ip-adapter_sdxl.bin'));
  file(a('models', 'ControlNet', 'control_canny.safetensors'), buildSafetensors({ 'control_model.x': one }));
  link(SD('ip-adapter-plus_sdxl_vit-h.safetensors'), a('extensions', 'sd-webui-controlnet', 'models', 'ip-adapter-plus_sdxl_vit-h.safetensors'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));


describe('scanning model roots', () => {
  test('ComfyUI: checkpoints, ipadapter and clip_vision found through subfolders and symlinks; the rest refused with a code', () => {
    const scan = scanModelRoot(comfy);
    expect(scan.layout).toBe('comfyui');
    expect(scan.found.map((f) => [f.kind, f.name])).toEqual([
      ['checkpoint', 'sdxl/tiny.safetensors'],
      ['ip-adapter', 'ip-adapter_sdxl.safetensors'],
      ['clip-vision', 'CLIP-ViT-bigG-14-laion2B-39B-b160k.safetensors'],
    ]);
    const unusable = Object.fromEntries(scan.unusable.map((u) => [path.relative(comfy, u.file), u.code]));
    expect(unusable).toEqual({
      'models/checkpoints/broken.safetensors': 'MODEL_FILE_UNUSABLE',
      'models/checkpoints/old.ckpt': 'CHECKPOINT_NOT_SDXL',
      'models/checkpoints/sd15.safetensors': 'CHECKPOINT_NOT_SDXL',
      'models/checkpoints/sdxl/loop': 'MODEL_FILE_UNUSABLE',
      'models/checkpoints/truncated.safetensors': 'MODEL_FILE_UNUSABLE',
      'models/ipadapter/not-an-adapter.safetensors': 'MODEL_FILE_UNUSABLE',
      'models/clip_vision/CLIP-ViT-tiny.safetensors': 'MODEL_FILE_UNUSABLE',
      'models/clip_vision/clip_h.pth': 'MODEL_FILE_UNUSABLE',
    });
    expect(scan.unusable.find((u) => u.file.endsWith('sd15.safetensors'))!.problem).toMatch(/Stable Diffusion 1\.x\/2\.x/);
    expect(scanModelRoot(path.join(comfy, 'models')).found).toHaveLength(3); // the models/ folder itself is a root too
  });

  test('AUTOMATIC1111: Stable-diffusion checkpoints and the ControlNet extension\'s IP-Adapters (other ControlNet models left alone)', () => {
    const scan = scanModelRoot(a1111);
    expect(scan.layout).toBe('a1111');
    expect(scan.found.map((f) => [f.kind, f.name])).toEqual([
      ['checkpoint', 'tiny.safetensors'],
      ['ip-adapter', 'ip-adapter_sdxl.bin'],
      ['ip-adapter', 'ip-adapter-plus_sdxl_vit-h.safetensors'],
    ]);
    expect(scan.unusable).toEqual([]);
  });

  test('roots from flags and STYLESTUDIO_MODEL_ROOTS; a missing folder, a file or a folder of no known layout is a coded error', () => {
    expect(modelRoots([comfy], [a1111, '', comfy].join(path.delimiter))).toEqual([comfy, a1111]);
    expect(codeOf(() => modelRoots([path.join(dir, 'nowhere')]))).toBe('MODEL_ROOT_INVALID');
    expect(codeOf(() => modelRoots([], ckpt))).toBe('MODEL_ROOT_INVALID');
    expect(() => modelRoots([], path.join(dir, 'nowhere'))).toThrow(/STYLESTUDIO_MODEL_ROOTS/);
    expect(codeOf(() => scanModelRoot(path.join(TINY)))).toBe('MODEL_ROOT_INVALID');
  });
});

describe('--checkpoint NAME and the model source', () => {
  const scans = () => [scanModelRoot(comfy), scanModelRoot(a1111)];

  test('by path below the folder, without extension, or by a unique file name; ambiguous, unusable and unknown names are coded errors', () => {
    expect(findModel(scans(), 'checkpoint', 'sdxl/tiny').file).toBe(path.join(comfy, 'models', 'checkpoints', 'sdxl', 'tiny.safetensors'));
    expect(findModel([scanModelRoot(comfy)], 'checkpoint', 'tiny.safetensors').name).toBe('sdxl/tiny.safetensors');
    expect(findModel(scans(), 'checkpoint', 'tiny.safetensors').file).toBe(path.join(a1111, 'models', 'Stable-diffusion', 'tiny.safetensors')); // exact name wins
    expect(codeOf(() => findModel([...scans(), scanModelRoot(a1111)], 'checkpoint', 'tiny'))).toBe('MODEL_NOT_FOUND'); // two matches
    expect(codeOf(() => findModel(scans(), 'checkpoint', 'sd15'))).toBe('CHECKPOINT_NOT_SDXL');
    expect(() => findModel(scans(), 'checkpoint', 'nothing')).toThrow(/checkpoint files under .*: sdxl\/tiny\.safetensors, tiny\.safetensors/);
  });

  test('configs from a diffusers folder with tokenizers, or built-in configs with tokenizers from the hub cache', () => {
    const cacheDir = path.join(dir, 'hub');
    const context = { cacheDir, rootsEnv: '' };
    expect(resolveModelSource({ checkpoint: 'sdxl/tiny', modelRoot: [comfy], modelConfig: TINY }, context))
      .toEqual({ model: path.join(comfy, 'models', 'checkpoints', 'sdxl', 'tiny.safetensors'), modelConfig: { configDir: TINY } });
    expect(codeOf(() => resolveModelSource({ checkpoint: ckpt }, context))).toBe('TOKENIZERS_MISSING');
    expect(() => resolveModelSource({ checkpoint: ckpt }, context)).toThrow(/stylestudio models pull sdxl-tokenizers/);
    // what `models pull sdxl-tokenizers` leaves in the cache
    const commit = 'a'.repeat(40);
    const repo = path.join(cacheDir, 'models--stabilityai--stable-diffusion-xl-base-1.0');
    file(path.join(repo, 'refs', 'main'), commit);
    for (const t of ['tokenizer', 'tokenizer_2']) {
      for (const f of ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json']) {
        file(path.join(repo, 'snapshots', commit, t, f), fs.readFileSync(path.join(TINY, t, f)));
      }
    }
    expect(resolveModelSource({ checkpoint: ckpt, modelConfig: 'sdxl-base' }, context))
      .toEqual({ model: ckpt, modelConfig: { configDir: builtinConfigDir('sdxl-base'), tokenizerDir: path.join(repo, 'snapshots', commit) } });
    expect(resolveModelSource({ model: TINY }, context)).toEqual({ model: TINY });
    expect(resolveStyleFiles({ adapter: 'ip-adapter_sdxl', imageEncoder: 'CLIP-ViT-bigG-14-laion2B-39B-b160k', modelRoot: [comfy] }, '')).toEqual({
      adapter: path.join(comfy, 'models', 'ipadapter', 'ip-adapter_sdxl.safetensors'),
      imageEncoder: path.join(comfy, 'models', 'clip_vision', 'CLIP-ViT-bigG-14-laion2B-39B-b160k.safetensors'),
    });
    expect(resolveStyleFiles({ adapter: 'ip-adapter-plus_sdxl_vit-h', modelRoot: [a1111] }, '').adapter).toMatch(/sd-webui-controlnet\/models\/ip-adapter-plus_sdxl_vit-h\.safetensors$/);
    expect(resolveStyleFiles({ imageEncoder: SD('image_encoder') }, '')).toEqual({ imageEncoder: SD('image_encoder') }); // a path stays a path
    expect(() => resolveStyleFiles({ imageEncoder: 'CLIP-ViT-tiny', modelRoot: [comfy] }, '')).toThrow(/matches neither ViT-H\/14 nor ViT-bigG\/14/);
    expect(resolveModelSource({}, context)).toBeUndefined();
    expect(codeOf(() => resolveModelSource({ model: TINY, checkpoint: ckpt }, context))).toBe('MODEL_CONFIG_INVALID');
    expect(codeOf(() => resolveModelSource({ model: TINY, modelConfig: TINY }, context))).toBe('MODEL_CONFIG_INVALID');
    expect(codeOf(() => resolveModelSource({ checkpoint: ckpt, modelConfig: path.join(TINY, 'unet') }, context))).toBe('MODEL_CONFIG_INVALID');
    expect(() => resolveModelSource({ checkpoint: TINY }, context)).toThrow(/is a folder: a diffusers folder is given with --model DIR/);
  });
});

describe('the CLI', () => {
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, STYLESTUDIO_MODEL_ROOTS: '' } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  test('models list --model-root shows what each root holds and why the rest cannot be used', () => {
    const r = cli('models', 'list', '--models', path.join(dir, 'empty-hub'), '--model-root', comfy, '--model-root', a1111);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`model root: ${comfy} (ComfyUI)`);
    expect(r.stdout).toMatch(/checkpoint +sdxl\/tiny\.safetensors/);
    expect(r.stdout).toMatch(/unusable +.*sd15\.safetensors: .*\[CHECKPOINT_NOT_SDXL\]/);
    expect(r.stdout).toContain(`model root: ${a1111} (AUTOMATIC1111/Forge)`);
    const json = JSON.parse(cli('models', 'list', '--models', path.join(dir, 'empty-hub'), '--model-root', a1111, '--json').stdout) as { roots: { found: unknown[] }[] };
    expect(json.roots[0]!.found).toHaveLength(3);
  });

  test('generate --checkpoint NAME --model-root DIR writes the same latents as --model DIR; a bad root is one line, exit 1', () => {
    const latents = path.join(dir, 'in.npy');
    writeNpy(latents, { shape: [1, 4, 8, 8], data: new Float32Array(256).map((_, i) => Math.sin(i)) });
    const common = ['--prompt', 'A red apple', '--width', '64', '--height', '64', '--steps', '2', '--latents', latents];
    const a = cli('generate', '--model', TINY, ...common, '--out', path.join(dir, 'a.png'), '--save-latents', path.join(dir, 'a.npy'));
    expect(a.code).toBe(0);
    const b = cli('generate', '--checkpoint', 'sdxl/tiny', '--model-root', comfy, '--model-config', TINY, ...common,
      '--out', path.join(dir, 'b.png'), '--save-latents', path.join(dir, 'b.npy'));
    expect(b.code).toBe(0);
    expect(Buffer.from(readNpy(path.join(dir, 'b.npy')).data.buffer).equals(Buffer.from(readNpy(path.join(dir, 'a.npy')).data.buffer))).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'b.png')).equals(fs.readFileSync(path.join(dir, 'a.png')))).toBe(true);
    // styled: the adapter by its name in the ComfyUI ipadapter folder
    const styled = ['--style', fixture('golden', 'style.png'), '--no-teacher', '--image-encoder', SD('image_encoder')];
    const c = cli('generate', '--model', TINY, ...common, ...styled, '--adapter', SD('ip-adapter_sdxl.safetensors'), '--out', path.join(dir, 'sa.png'), '--save-latents', path.join(dir, 'sa.npy'));
    const d = cli('generate', '--checkpoint', 'sdxl/tiny', '--model-root', comfy, '--model-config', TINY, ...common, ...styled, '--adapter', 'ip-adapter_sdxl',
      '--out', path.join(dir, 'sb.png'), '--save-latents', path.join(dir, 'sb.npy'));
    expect([c.code, d.code]).toEqual([0, 0]);
    expect(Buffer.from(readNpy(path.join(dir, 'sb.npy')).data.buffer).equals(Buffer.from(readNpy(path.join(dir, 'sa.npy')).data.buffer))).toBe(true);
    const bad = cli('generate', '--checkpoint', 'x', '--model-root', path.join(dir, 'nowhere'), ...common, '--out', path.join(dir, 'c.png'));
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^stylestudio: --model-root .*nowhere: no such folder$/)]);
    expect(fs.existsSync(path.join(dir, 'c.png'))).toBe(false);
  }, 240_000);
});
