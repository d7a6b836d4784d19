/**
 * Style presets on the command line, as users run them: the compiled CLI in child processes on the tiny models, with
 * its own config dir. A preset with a fixed seed gives bit-identical images for the same prompt, and the same images
 * as the equivalent explicit flags; flags given override the preset; every bad preset is one line and a non-zero exit.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixture, repoRoot } from '../../helpers/paths';

jest.setTimeout(180_000);

const CLI = path.join(repoRoot, 'dist', 'companion', 'cli.js');
const SD = (...p: string[]) => fixture('ip-adapter-tiny', 'sdxl_models', ...p);
const MODEL = ['--model', fixture('sdxl-tiny'), '--adapter', SD('ip-adapter_sdxl.safetensors'), '--image-encoder', SD('image_encoder')];
const STYLE = fixture('golden', 'style.png');
/** The preset's settings as explicit flags. */
const SETTINGS = ['--drop', 'colour', '--strength', '0.7', '--seed', '42', '--steps', '3', '--width', '64', '--height', '64', '--guidance', '4', '--teacher-steps', '1'];

let dir: string;
let config: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stylestudio-presets-'));
  config = path.join(dir, 'config');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 150_000, env: { ...process.env, STYLESTUDIO_CONFIG_DIR: config } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const png = (name: string) => fs.readFileSync(path.join(dir, name));
const presetFolder = (name: string) => path.join(config, 'presets', name);

test('presets save copies the reference in and records the settings; list and show describe it', () => {
  const saved = cli('presets', 'save', 'ink series', '--style', STYLE, ...SETTINGS, '--adapter', SD('ip-adapter_sdxl.safetensors'));
  expect([saved.code, saved.stderr]).toEqual([0, '']);
  expect(saved.stdout).toMatch(/^saved preset ink series: strength 0\.7, AdaIN on, drop colour, seed 42, 3 steps, guidance 4, 64×64, made with ip-adapter_sdxl\.safetensors$/m);
  expect(fs.readdirSync(presetFolder('ink series')).sort()).toEqual(['preset.json', 'reference-0.png']);
  const json = JSON.parse(fs.readFileSync(path.join(presetFolder('ink series'), 'preset.json'), 'utf8'));
  expect(json).toMatchObject({
    version: 1, name: 'ink series', references: [{ image: 'reference-0.png', weight: 1 }], elements: { kind: 'drop', preset: 'colour' },
    madeWith: { adapter: 'ip-adapter_sdxl.safetensors' }, seed: { kind: 'fixed', seed: 42 },
    settings: { crossModalAdain: true, strength: 0.7, steps: 3, width: 64, height: 64, guidance: 4, teacherSteps: 1 },
  });
  expect(cli('presets', 'list').stdout).toMatch(/^ink series {2}strength 0\.7/m);
  const shown = cli('presets', 'show', 'ink series');
  expect(shown.stdout.split('\n')[0]).toBe(`# ${presetFolder('ink series')}`);
  expect(JSON.parse(shown.stdout.split('\n').slice(1).join('\n'))).toEqual(json);
});

test('the same prompt twice with the preset gives bit-identical images, equal to the explicit flags; the reference survives the original moving', () => {
  const moved = path.join(dir, 'style-moved.png');
  fs.copyFileSync(STYLE, moved);
  cli('presets', 'save', 'moved', '--style', moved, ...SETTINGS);
  fs.rmSync(moved);
  const prompt = ['--prompt', 'A red apple'];
  const a = cli('generate', ...MODEL, ...prompt, '--style-preset', 'moved', '--out', path.join(dir, 'a.png'));
  const b = cli('generate', ...MODEL, ...prompt, '--style-preset', 'moved', '--out', path.join(dir, 'b.png'));
  const flags = cli('generate', ...MODEL, ...prompt, '--style', STYLE, ...SETTINGS, '--out', path.join(dir, 'flags.png'));
  expect([a.code, b.code, flags.code]).toEqual([0, 0, 0]);
  expect(a.stdout).toMatch(/a\.png \(seed 42\)/);
  expect(png('a.png').equals(png('b.png'))).toBe(true);
  expect(png('a.png').equals(png('flags.png'))).toBe(true);
  // by folder too, and a flag given wins over the preset's value
  const seven = cli('generate', ...MODEL, ...prompt, '--style-preset', presetFolder('moved'), '--seed', '7', '--out', path.join(dir, 'seven.png'));
  expect([seven.code, seven.stderr.includes('error')]).toEqual([0, false]);
  expect(seven.stdout).toMatch(/seven\.png \(seed 7\)/);
  expect(png('seven.png').equals(png('a.png'))).toBe(false);
});

test('several references with weights: saved as reference-0/1.png with their weights, and applying equals the explicit flags', () => {
  const refs = ['--style', STYLE, '--style', fixture('golden', 'neg_style.png'), '--style-weights', '1,0.5'];
  expect(cli('presets', 'save', 'pair', ...refs, ...SETTINGS).code).toBe(0);
  expect(fs.readdirSync(presetFolder('pair')).sort()).toEqual(['preset.json', 'reference-0.png', 'reference-1.png']);
  const json = JSON.parse(fs.readFileSync(path.join(presetFolder('pair'), 'preset.json'), 'utf8'));
  expect(json.references).toEqual([{ image: 'reference-0.png', weight: 1 }, { image: 'reference-1.png', weight: 0.5 }]);
  const prompt = ['--prompt', 'A red apple'];
  const viaPreset = cli('generate', ...MODEL, ...prompt, '--style-preset', 'pair', '--out', path.join(dir, 'pair.png'));
  const flags = cli('generate', ...MODEL, ...prompt, ...refs, ...SETTINGS, '--out', path.join(dir, 'pair-flags.png'));
  expect([viaPreset.code, flags.code]).toEqual([0, 0]);
  expect(png('pair.png').equals(png('pair-flags.png'))).toBe(true);
});

test('several elements left out: saved as a list, shown, and applying equals the explicit --drop list', () => {
  const flags = ['--style', STYLE, ...SETTINGS.map((a) => (a === 'colour' ? 'colour,brushwork' : a))];
  const saved = cli('presets', 'save', 'two-elements', ...flags);
  expect(saved.code).toBe(0);
  expect(saved.stdout).toMatch(/drop colour, brushwork/);
  const json = JSON.parse(fs.readFileSync(path.join(presetFolder('two-elements'), 'preset.json'), 'utf8'));
  expect(json.elements).toEqual({ kind: 'drop', preset: ['colour', 'brushwork'] });
  const prompt = ['--prompt', 'A red apple'];
  const viaPreset = cli('generate', ...MODEL, ...prompt, '--style-preset', 'two-elements', '--out', path.join(dir, 'two.png'));
  const explicit = cli('generate', ...MODEL, ...prompt, ...flags, '--out', path.join(dir, 'two-flags.png'));
  const colourOnly = cli('generate', ...MODEL, ...prompt, '--style', STYLE, ...SETTINGS, '--out', path.join(dir, 'two-colour.png'));
  expect([viaPreset.code, explicit.code, colourOnly.code]).toEqual([0, 0, 0]);
  expect(png('two.png').equals(png('two-flags.png'))).toBe(true);
  expect(png('two.png').equals(png('two-colour.png'))).toBe(false);
});

test('generate --save-preset saves the run\'s settings; applying it reproduces the image; a different adapter is noted', () => {
  const first = cli('generate', ...MODEL, '--prompt', 'A lighthouse', '--style', STYLE, ...SETTINGS, '--out', path.join(dir, 'first.png'), '--save-preset', 'from-run');
  expect(first.code).toBe(0);
  expect(first.stdout).toMatch(/first\.png \(seed 42\), preset from-run:/);
  const again = cli('generate', ...MODEL, '--prompt', 'A lighthouse', '--style-preset', 'from-run', '--out', path.join(dir, 'again.png'));
  expect(again.code).toBe(0);
  expect(png('again.png').equals(png('first.png'))).toBe(true);
  const csgo = cli('generate', ...MODEL.slice(0, 2), '--adapter', fixture('ip-adapter-tiny', 'csgo', 'csgo_tiny.bin'), ...MODEL.slice(4), '--prompt', 'A lighthouse',
    '--style-preset', 'from-run', '--out', path.join(dir, 'csgo.png'), '--plan');
  expect(csgo.stderr).toMatch(/note: preset from-run was made with the adapter ip-adapter_sdxl\.safetensors; this run uses csgo_tiny\.bin/);
  // an existing name is refused before anything runs, and the preset is kept as it was
  const before = fs.readFileSync(path.join(presetFolder('from-run'), 'preset.json'), 'utf8');
  const refused = cli('generate', ...MODEL, '--prompt', 'x', '--style', STYLE, '--out', path.join(dir, 'never.png'), '--save-preset', 'from-run');
  expect([refused.code, refused.stderr.trim()]).toEqual([1, 'stylestudio: preset "from-run" exists; add --overwrite-preset to replace it']);
  expect(fs.existsSync(path.join(dir, 'never.png'))).toBe(false);
  expect(fs.readFileSync(path.join(presetFolder('from-run'), 'preset.json'), 'utf8')).toBe(before);
});

describe('bad presets: one line naming the problem, a non-zero exit, nothing changed', () => {
  beforeAll(() => {
    cli('presets', 'save', 'base', '--style', STYLE, '--steps', '3');
    const copy = (to: string, edit: (j: any) => void) => {
      fs.cpSync(presetFolder('base'), presetFolder(to), { recursive: true });
      const file = path.join(presetFolder(to), 'preset.json');
      const j = JSON.parse(fs.readFileSync(file, 'utf8'));
      edit(j);
      fs.writeFileSync(file, JSON.stringify(j));
    };
    copy('six-refs', (j) => {
      j.name = 'six-refs';
      for (let k = 0; k < 5; k++) j.references.push({ image: 'reference-0.png', weight: 1 });
    });
    copy('future', (j) => (j.version = 2));
    copy('bad-field', (j) => (j.settings.steps = 0));
    copy('unknown-field', (j) => (j.settings.lora = 'x'));
    fs.mkdirSync(presetFolder('empty'));
  });
  const cases: [string, string[], RegExp][] = [
    ['saving over an existing name', ['presets', 'save', 'base', '--style', STYLE], /preset "base" exists; overwrite it explicitly/],
    ['a name that is a path', ['presets', 'save', '../x', '--style', STYLE], /preset name "\.\.\/x" must be 1–64 letters/],
    ['a Windows device name', ['presets', 'save', 'con', '--style', STYLE], /preset name "con" is reserved on Windows/],
    ['no reference image', ['presets', 'save', 'noref', '--steps', '3'], /a preset needs a reference image: --style IMG/],
    ['settings that make no valid spec', ['presets', 'save', 'x1', '--style', STYLE, '--strength', '0.5', '--scale', '1'], /give strength, or scale and adainStrength, not both/],
    ['an off-stride size', ['presets', 'save', 'x2', '--style', STYLE, '--width', '100'], /width 100 is not a multiple of 32; try 96 or 128/],
    ['an unknown preset', ['generate', ...MODEL, '--prompt', 'x', '--out', 'unused.png', '--style-preset', 'nope'], /no preset "nope" in .*presets; `stylestudio presets list` lists them/],
    ['too many references', ['generate', ...MODEL, '--prompt', 'x', '--out', 'unused.png', '--style-preset', 'six-refs'], /preset six-refs: this preset has 6 reference images; StyleStudio takes at most 5/],
    ['a newer preset version', ['presets', 'show', 'future'], /preset\.json: preset version 2; this StyleStudio reads version 1/],
    ['a bad value in preset.json', ['presets', 'show', 'bad-field'], /preset\.json: settings\.steps: /],
    ['an unknown field in preset.json', ['presets', 'show', 'unknown-field'], /preset\.json: settings: .*lora/],
    ['a folder without preset.json', ['presets', 'show', 'empty'], /empty: not a preset folder \(no preset\.json\)/],
    ['deleting an unknown preset', ['presets', 'delete', 'nope'], /no preset "nope"/],
  ];
  test.each(cases)('%s', (_name, args, message) => {
    const before = fs.readdirSync(path.join(config, 'presets')).sort();
    const r = cli(...args);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(fs.readdirSync(path.join(config, 'presets')).sort()).toEqual(before);
  });

  test('list shows the unreadable ones with why; delete removes one', () => {
    const list = cli('presets', 'list').stdout;
    expect(list).toMatch(/^future {2}unreadable: .*preset version 2/m);
    expect(list).toMatch(/^base {2}default strength, AdaIN on, no negative style, random seed, 3 steps, guidance 5, 1024×1024$/m);
    expect(list).toMatch(/^six-refs {2}not applicable: this preset has 6 reference images/m);
    expect(cli('presets', 'delete', 'base').code).toBe(0);
    expect(fs.existsSync(presetFolder('base'))).toBe(false);
  });
});
