/**
 * `stylestudio eval` as users run it (the built CLI) on the tiny towers, whose scores are the goldens', and every bad
 * input refused with its code before anything heavy runs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isEvalError, type EvalErrorCode } from '../../../companion/eval/errors';
import { type EvalCliOptions, referenceNames, runEval } from '../../../companion/commands/eval-command';
import { toCsv } from '../../../companion/eval/score-files';
import { runCli } from '../../helpers/cli-process';
import { fixture } from '../../helpers/paths';

const images = ['gen_a.png', 'gen_b.png', 'gen_c.png', 'gen_d.png'].map((n) => fixture('eval', 'images', n));
const refs = ['ref_warm.png', 'ref_cool.png'].map((n) => fixture('eval', 'images', n));
const sidecar = JSON.parse(fs.readFileSync(fixture('eval', 'eval.json'), 'utf8')) as {
  inputs: { prompts: string[] };
  scores: Record<string, { clipT: Record<string, number>; style: Record<string, { clip: number; csd: number }>; layoutPairs: Record<string, number> }>;
};
const prompt = sidecar.inputs.prompts[0]!;
let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stylestudio-eval-')); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the CLI prints a table and writes eval.json and eval.csv whose scores are the references\' (1e-5)', async () => {
  const r = await runCli(['eval', ...images, '--prompt', prompt, '--style', refs[0]!, '--style', refs[1]!, '--out', dir,
    '--model', fixture('sdxl-tiny'), '--image-encoder', fixture('eval', 'image_encoder'),
    '--csd', fixture('eval', 'csd', 'checkpoint.pth'), '--csd-heads', '2'], {});
  expect(r.stderr).toMatch(/7\/7 100%/); // the progress bar (not a terminal: one line per tenth)
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^image\s+clip_t\s+style_clip\[ref_warm\.png\]\s+style_csd\[ref_warm\.png\]/);
  const records = JSON.parse(fs.readFileSync(path.join(dir, 'eval.json'), 'utf8')) as Record<string, number | string | null>[];
  expect(records).toHaveLength(4);
  for (const rec of records) {
    const want = sidecar.scores[path.basename(rec['image'] as string)]!;
    expect(rec['prompt']).toBe(prompt);
    expect(Math.abs((rec['clip_t'] as number) - want.clipT[prompt]!)).toBeLessThan(1e-5);
    for (const ref of ['ref_warm.png', 'ref_cool.png']) {
      expect(Math.abs((rec[`style_clip[${ref}]`] as number) - want.style[ref]!.clip)).toBeLessThan(1e-5);
      expect(Math.abs((rec[`style_csd[${ref}]`] as number) - want.style[ref]!.csd)).toBeLessThan(1e-5);
    }
    const pairs = Object.values(want.layoutPairs);
    expect(Math.abs((rec['layout'] as number) - pairs.reduce((a, b) => a + b, 0) / pairs.length)).toBeLessThan(1e-5);
  }
  const csv = fs.readFileSync(path.join(dir, 'eval.csv'), 'utf8').trim().split('\n');
  expect(csv[0]).toBe('image,prompt,clip_t,style_clip[ref_warm.png],style_csd[ref_warm.png],style_clip[ref_cool.png],style_csd[ref_cool.png],layout,layout_pairs');
  expect(csv).toHaveLength(5);
});

describe('bad inputs are refused with a code', () => {
  const base = (): EvalCliOptions => ({ prompt, style: [refs[0]!], out: dir, model: fixture('sdxl-tiny'), imageEncoder: fixture('eval', 'image_encoder') });
  const refused = async (code: EvalErrorCode, files: string[], o: EvalCliOptions, message: RegExp) => {
    const err = await runEval(files, o).then(() => null, (e: unknown) => e);
    expect(isEvalError(err, code)).toBe(true);
    expect((err as Error).message).toMatch(message);
  };

  test('missing prompt, style, out, images; unknown provider; a missing file', async () => {
    await refused('BAD_ARGUMENT', images, { ...base(), prompt: undefined }, /--prompt is required/);
    await refused('BAD_ARGUMENT', images, { ...base(), style: [] }, /--style is required/);
    await refused('BAD_ARGUMENT', images, { ...base(), out: undefined }, /--out DIR is required/);
    await refused('BAD_ARGUMENT', [], base(), /at least one image/);
    await refused('BAD_ARGUMENT', images, { ...base(), provider: 'tpu' }, /--provider must be one of/);
    await refused('BAD_ARGUMENT', [path.join(dir, 'nope.png')], base(), /nope\.png: no such file/);
    await refused('BAD_ARGUMENT', images, { ...base(), csdHeads: 'two' }, /--csd-heads must be a positive integer/);
    await refused('BAD_ARGUMENT', images, { ...base(), preprocess: 'pillow' }, /--preprocess must be one of transformers, open_clip/);
  });

  test('no --model and no default set in the hub cache names both fixes', async () => {
    const { model: _m, imageEncoder: _i, ...rest } = base();
    await refused('BAD_ARGUMENT', images, { ...rest, models: dir }, /models pull.*--model DIR/);
  });

  test('an image that does not decode', async () => {
    const broken = path.join(dir, 'broken.png');
    fs.writeFileSync(broken, 'not a png');
    await refused('BAD_IMAGE', [broken], base(), /broken\.png/);
  });

  test('towers of two different CLIPs (the tiny IP-Adapter encoder projects to 32, text_encoder_2 to 48)', async () => {
    await refused('TOWER_MISMATCH', images, { ...base(), imageEncoder: fixture('ip-adapter-tiny', 'sdxl_models', 'image_encoder') }, /48.*32/);
  });

  test('--csd pointing at weights that are not CSD', async () => {
    await refused('CSD_WEIGHTS', images, { ...base(), csd: fixture('eval', 'image_encoder', 'model.safetensors') }, /no CSD tensors/);
  });
});

test('reference names: the file name, or the path where two references share one', () => {
  expect(referenceNames(['a/x.png', 'b/y.png'])).toEqual(['x.png', 'y.png']);
  expect(referenceNames(['a/x.png', 'b/x.png', 'c/z.png'])).toEqual(['a/x.png', 'b/x.png', 'z.png']);
});

test('CSV quotes fields with commas, quotes or newlines and leaves nulls empty', () => {
  expect(toCsv([{ prompt: 'a "quoted", prompt', layout: null, clip_t: 0.5 }])).toBe('prompt,layout,clip_t\n"a ""quoted"", prompt",,0.5\n');
});
