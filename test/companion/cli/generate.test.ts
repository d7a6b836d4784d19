/**
 * `stylestudio generate` / `encode` as a user runs them: the real compiled CLI in a child process on the tiny
 * models, with --latents/--save-latents parity against the diffusers and StyleStudio goldens, one-line errors with
 * a non-zero exit, and nothing written when a run fails.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readNpy, writeNpy } from '../../../companion/pipeline/npy';
import { readImageFile, writePngFile } from '../../../companion/image/rgba';
import { Golden, relL2 } from '../models/golden';
import { fixture, repoRoot } from '../../helpers/paths';

const CLI = path.join(repoRoot, 'dist', 'companion', 'cli.js');
const MODEL = fixture('sdxl-tiny');
const SD = (...p: string[]) => fixture('ip-adapter-tiny', 'sdxl_models', ...p);
const STYLE_ARGS = ['--adapter', SD('ip-adapter_sdxl.safetensors'), '--image-encoder', SD('image_encoder'), '--style', fixture('golden', 'style.png')];

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stylestudio-cli-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tiny = ['--model', MODEL, '--prompt', 'A red apple', '--width', '64', '--height', '64', '--guidance', '5'];

describe('generate through the CLI: --latents in, --save-latents out, parity with the goldens', () => {
  const pipeline = new Golden('pipeline');
  const studio = new Golden('stylestudio_fp32');

  test('plain SDXL (no negative prompt → zero embeddings) within 1e-4 of diffusers; PNG and summary line', () => {
    const latents = path.join(dir, 'in.npy');
    writeNpy(latents, { shape: [1, 4, 8, 8], data: pipeline.get('in.latents').data });
    const out = path.join(dir, 'noip.png');
    const saved = path.join(dir, 'noip.npy');
    const r = cli('generate', ...tiny, '--steps', '4', '--latents', latents, '--save-latents', saved, '--out', out, '--seed', '0');
    expect(r.stderr).toMatch(/4\/4 100%/); // the progress bar
    expect(r.code).toBe(0);
    const summary = r.stdout.trim().split('\n');
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatch(/unet-row-evals=8, \d+\.\d+ s\/step/);
    const e = relL2(readNpy(saved).data, pipeline.get('noip.out.latent').data);
    console.log(`CLI noip: rel L2 ${e.toExponential(2)}`);
    expect(e).toBeLessThan(1e-4);
    expect(fs.readFileSync(out).subarray(1, 4).toString()).toBe('PNG');
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('IP-Adapter scale 0.7 on all layers (--no-adain --no-teacher --style-layers all) within 1e-3', () => {
    const latents = path.join(dir, 'in.npy');
    writeNpy(latents, { shape: [1, 4, 8, 8], data: pipeline.get('in.latents').data });
    const saved = path.join(dir, 'ip.npy');
    const r = cli('generate', ...tiny, ...STYLE_ARGS, '--steps', '4', '--scale', '0.7', '--style-layers', 'all', '--no-adain', '--no-teacher',
      '--latents', latents, '--save-latents', saved, '--out', path.join(dir, 'ip.png'));
    expect(r.code).toBe(0);
    const e = relL2(readNpy(saved).data, pipeline.get('ip.out.latent').data);
    console.log(`CLI ip: rel L2 ${e.toExponential(2)}`);
    expect(e).toBeLessThan(1e-3);
  });

  test.each([
    ['teacher', ['--no-adain', '--teacher-steps', '2'], 14],
    ['scfg', ['--no-adain', '--negative-style', fixture('golden', 'neg_style.png'), '--no-teacher'], 10],
    ['all', ['--teacher-steps', '2', '--negative-style', fixture('golden', 'neg_style.png')], 14],
  ] as const)('StyleStudio %s (negative prompt "", scale 1) within 1e-3 of the official code; row-evals', (name, extra, evals) => {
    const latents = path.join(dir, 'in1.npy');
    writeNpy(latents, { shape: [1, 4, 8, 8], data: studio.get('in.latents_1').data });
    const saved = path.join(dir, `${name}.npy`);
    const r = cli('generate', ...tiny, ...STYLE_ARGS, '--steps', '5', '--negative-prompt', '', '--scale', '1', ...extra,
      '--latents', latents, '--save-latents', saved, '--out', path.join(dir, `${name}.png`));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`unet-row-evals=${evals}`);
    const expected = studio.get(`${name}.out.latent`);
    const e = relL2(readNpy(saved).data, expected.shape[0] === 2 ? expected.data.subarray(256) : expected.data);
    console.log(`CLI StyleStudio ${name}: rel L2 ${e.toExponential(2)}`);
    expect(e).toBeLessThan(1e-3);
  });

  test('--seed 42 equals --latents = torch.randn(1,4,8,8, seed 42); --variations 2 writes OUT-0/OUT-1 with seeds 42, 43', () => {
    const rng = new Golden('rng');
    const noise = path.join(dir, 'seed42.npy');
    writeNpy(noise, { shape: [1, 4, 8, 8], data: rng.get('randn.seed42.1x4x8x8.float32').data });
    const a = cli('generate', ...tiny, '--steps', '3', '--seed', '42', '--variations', '2', '--out', path.join(dir, 'v.png'), '--save-latents', path.join(dir, 'v.npy'));
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/v-0\.png \(seed 42\), .*v-1\.png \(seed 43\)/);
    const b = cli('generate', ...tiny, '--steps', '3', '--latents', noise, '--out', path.join(dir, 'l.png'), '--save-latents', path.join(dir, 'l.npy'));
    expect(b.code).toBe(0);
    expect(Array.from(readNpy(path.join(dir, 'v-0.npy')).data)).toEqual(Array.from(readNpy(path.join(dir, 'l.npy')).data));
    expect(fs.existsSync(path.join(dir, 'v-1.png'))).toBe(true);
  });
});

describe('several --style references through the CLI', () => {
  test('two --style images, equal weights: diffusers\' ip_adapter_image=[[a, b]] within 1e-3', () => {
    const saved = path.join(dir, 'multi.npy');
    const r = cli('generate', ...tiny, ...STYLE_ARGS, '--style', fixture('golden', 'neg_style.png'), '--no-adain', '--no-teacher', '--style-layers', 'all',
      '--scale', '0.7', '--steps', '4', '--seed', '41', '--scheduler', 'euler', '--out', path.join(dir, 'multi.png'), '--save-latents', saved);
    expect(r.code).toBe(0);
    const e = relL2(readNpy(saved).data, new Golden('multi_ip').get('two.out.latent').data);
    console.log(`CLI two references: rel L2 ${e.toExponential(2)}`);
    expect(e).toBeLessThan(1e-3);
  });

  test.each([
    ['weights for another count', ['--style-weights', '1,0.5,0.2'], /--style-weights gives 3 weights for 2 --style images/],
    ['every weight 0', ['--style-weights', '0,0'], /at least one style reference needs a weight above 0/],
    ['a weight above 1', ['--style-weights', '1,1.5'], /1\.5|Too big|\[0, 1\]/],
  ] as const)('%s: one line, non-zero exit', (_name, extra, message) => {
    const r = cli('generate', ...tiny, ...STYLE_ARGS, '--style', fixture('golden', 'neg_style.png'), ...extra, '--out', path.join(dir, 'bad-multi.png'));
    expect(r.code).not.toBe(0);
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('['));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(fs.existsSync(path.join(dir, 'bad-multi.png'))).toBe(false);
  });
});

describe('generate --init (img2img) through the CLI', () => {
  const gold = new Golden('img2img');

  test('--init --denoise 0.6 of 5 euler steps: the 3 last steps run, within 1e-4 of diffusers\' img2img', () => {
    const saved = path.join(dir, 'i2i.npy');
    const r = cli('generate', ...tiny, '--init', fixture('golden', 'init.png'), '--denoise', '0.6', '--steps', '5', '--seed', '21',
      '--scheduler', 'euler', '--out', path.join(dir, 'i2i.png'), '--save-latents', saved);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/3\/3 100%/);
    expect(r.stdout).toMatch(/3 of 5 steps \(denoise 0\.6\)/);
    const e = relL2(readNpy(saved).data, gold.get('euler.out.latent').data);
    console.log(`CLI img2img euler: rel L2 ${e.toExponential(2)}`);
    expect(e).toBeLessThan(1e-4);
  });

  test('without --height the output keeps the init image\'s aspect (128×64 init, --width 64 → 64×32)', async () => {
    const wide = path.join(dir, 'wide.png');
    const data = new Uint8Array(128 * 64 * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 7) % 256));
    await writePngFile({ width: 128, height: 64, data }, wide);
    const out = path.join(dir, 'wide-out.png');
    const args = ['--model', MODEL, '--prompt', 'A red apple', '--width', '64', '--steps', '2', '--seed', '1', '--init', wide, '--out', out];
    const r = cli('generate', ...args);
    expect(r.code).toBe(0);
    const img = await readImageFile(out);
    expect([img.width, img.height]).toEqual([64, 32]);
  });

  test('--init --mask: inpainting at parity with diffusers\' SDXL inpaint pipeline (4-channel UNet)', () => {
    const saved = path.join(dir, 'inpaint.npy');
    const r = cli('generate', ...tiny, '--init', fixture('golden', 'init.png'), '--mask', fixture('golden', 'mask.png'), '--denoise', '0.6',
      '--steps', '5', '--seed', '51', '--scheduler', 'euler', '--out', path.join(dir, 'inpaint.png'), '--save-latents', saved);
    expect(r.code).toBe(0);
    const e = relL2(readNpy(saved).data, new Golden('inpaint').get('euler.out.latent').data);
    console.log(`CLI inpaint euler: rel L2 ${e.toExponential(2)}`);
    expect(e).toBeLessThan(3e-4);
  });

  test.each([
    ['--mask without --init', () => [...tiny, '--mask', fixture('golden', 'mask.png')], /an inpainting mask needs an init image/],
    ['--denoise without --init', () => [...tiny, '--denoise', '0.5'], /denoise needs an init image/],
    ['--init file missing', () => [...tiny, '--init', path.join(dir, 'none.png')], /--init: .*none\.png: cannot read image file \(ENOENT\)/],
    ['--denoise that runs no step', () => [...tiny, '--init', fixture('golden', 'init.png'), '--steps', '4', '--denoise', '0.2'], /denoise 0\.2 of 4 steps runs no step/],
    ['--latents with --init', () => [...tiny, '--init', fixture('golden', 'init.png'), '--latents', path.join(dir, 'in.npy')], /--latents and --init exclude each other/],
  ] as const)('%s: one line, non-zero exit, nothing written', (_name, args, message) => {
    const r = cli('generate', ...args(), '--out', path.join(dir, 'bad-init.png'));
    expect(r.code).not.toBe(0);
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('['));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(fs.existsSync(path.join(dir, 'bad-init.png'))).toBe(false);
  });
});

describe('bad arguments and files: one line naming the culprit, non-zero exit, nothing written', () => {
  const cases: [string, () => string[], RegExp][] = [
    ['missing --prompt', () => ['--model', MODEL, '--out', path.join(dir, 'x.png')], /--prompt is required/],
    ['model folder missing', () => [...tiny, '--model', path.join(dir, 'nope'), '--out', path.join(dir, 'x.png')], /--model .*nope: no such file or directory/],
    ['not a diffusers folder', () => [...tiny, '--model', dir, '--out', path.join(dir, 'x.png'), '--steps', '1'], /model_index\.json is missing/],
    ['bad --steps', () => [...tiny, '--steps', 'ten', '--out', path.join(dir, 'x.png')], /--steps must be an integer, got "ten"/],
    ['size not a multiple', () => [...tiny, '--width', '100', '--steps', '1', '--out', path.join(dir, 'x.png')], /width 100 is not a multiple of/],
    ['style file missing', () => [...tiny, ...STYLE_ARGS.slice(0, 4), '--style', path.join(dir, 'none.png'), '--out', path.join(dir, 'x.png')], /--style: .*none\.png: cannot read image file \(ENOENT\)/],
    ['style is not an image', () => [...tiny, ...STYLE_ARGS.slice(0, 4), '--style', MODEL + '/model_index.json', '--out', path.join(dir, 'x.png')], /--style: .*model_index\.json: cannot decode image/],
    ['latents of the wrong shape', () => {
      const bad = path.join(dir, 'bad.npy');
      writeNpy(bad, { shape: [1, 4, 16, 16], data: new Float32Array(1024) });
      return [...tiny, '--steps', '1', '--latents', bad, '--out', path.join(dir, 'x.png')];
    }, /latents have shape \[1, 4, 16, 16\], this size needs \[1, 4, 8, 8\]/],
    ['latents not a .npy', () => [...tiny, '--latents', fixture('golden', 'style.png'), '--out', path.join(dir, 'x.png')], /--latents: .*style\.png: not a \.npy file/],
    ['output folder missing', () => [...tiny, '--out', path.join(dir, 'no', 'x.png')], /--out .*x\.png: cannot write into/],
    ['unknown scheduler', () => [...tiny, '--scheduler', 'plms', '--out', path.join(dir, 'x.png')], /--scheduler must be one of euler, euler-a/],
    ['drop without style', () => [...tiny, '--drop', 'colour', '--out', path.join(dir, 'x.png')], /--drop needs --style/],
    ['unavailable provider', () => [...tiny, '--provider', 'coreml', '--steps', '1', '--out', path.join(dir, 'x.png')], /coreml/i],
  ];
  test.each(cases)('%s', (_name, args, message) => {
    const r = cli('generate', ...args());
    expect(r.code).not.toBe(0);
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('['));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(fs.existsSync(path.join(dir, 'x.png'))).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('encode', () => {
  test('prints the four embeddings with shapes; no negative prompt → zeros, "" → encoded', () => {
    const a = cli('encode', '--model', MODEL, '--prompt', 'A red apple');
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^prompt_embeds \[1, 77, 96\] mean=\S+ std=\S+ min=\S+ max=\S+ l2=\S+ sha256=[0-9a-f]{16}$/m);
    expect(a.stdout).toMatch(/^pooled_prompt_embeds \[1, 48\] /m);
    expect(a.stdout).toMatch(/^negative_prompt_embeds \[1, 77, 96\] mean=0\.00000 std=0\.00000/m);
    const b = cli('encode', '--model', MODEL, '--prompt', 'A red apple', '--negative-prompt', '');
    expect(b.code).toBe(0);
    expect(b.stdout).not.toMatch(/^negative_prompt_embeds \[1, 77, 96\] mean=0\.00000 std=0\.00000/m);
    const line = (s: string, name: string) => s.split('\n').find((l) => l.startsWith(`${name} `));
    expect(line(a.stdout, 'prompt_embeds')).toBe(line(b.stdout, 'prompt_embeds'));
  });

  test('--checkpoint: a single-file checkpoint of the same model prints the same embeddings', async () => {
    const { writeOriginalCheckpoint } = await import('../weights/ldm-checkpoint-writer');
    const file = writeOriginalCheckpoint(MODEL, path.join(dir, 'encode-ckpt.safetensors'));
    const folder = cli('encode', '--model', MODEL, '--prompt', 'A red apple', '--negative-prompt', 'blurry');
    const single = cli('encode', '--checkpoint', file, '--model-config', MODEL, '--prompt', 'A red apple', '--negative-prompt', 'blurry');
    expect([folder.code, single.code, single.stderr]).toEqual([0, 0, '']);
    const embeds = (s: string) => s.split('\n').filter((l) => /_embeds \[/.test(l));
    expect(embeds(single.stdout)).toHaveLength(4);
    expect(embeds(single.stdout)).toEqual(embeds(folder.stdout));
    const neither = cli('encode', '--prompt', 'x');
    expect([neither.code, neither.stderr.trim()]).toEqual([1, 'stylestudio: --model DIR or --checkpoint FILE is required']);
  });

  test('a missing model folder is one line and a non-zero exit', () => {
    const r = cli('encode', '--model', path.join(dir, 'missing'), '--prompt', 'x');
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--model .*missing: no such file or directory/);
  });
});
