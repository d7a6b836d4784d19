/**
 * `stylestudio eval <images…> --prompt TEXT --style REF [--style REF …] --out DIR`: scores existing images (ours or
 * anyone's) with the default set's bigG towers, and CSD when `--csd FILE` points at its weights. Prints a table and
 * writes DIR/eval.json and DIR/eval.csv. All images are taken as made from the one prompt; each is compared for
 * layout with all the others (give one prompt's images made with different styles).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { readImageFile, type RgbaImage } from '../image/rgba';
import { ProgressBar } from './progress-bar';
import { ClipTowers } from '../eval/clip-towers';
import { CsdModel } from '../eval/csd';
import { chooseCompute, type ModelFlags, parsePreprocess, requireExisting, resolveModelPaths } from '../eval/eval-models';
import { EvalError } from '../eval/errors';
import { formatTable, scoreColumns, type ScoreRecord, writeScoreFiles } from '../eval/score-files';
import { scoreImages, type StyleEmbedder } from '../eval/scorer';

export interface EvalCliOptions extends ModelFlags {
  prompt?: string;
  style?: string[];
  out?: string;
  csd?: string;
  csdHeads?: string;
}

export async function readImageOrFail(what: string, file: string): Promise<RgbaImage> {
  try {
    return await readImageFile(file);
  } catch (e) {
    throw new EvalError('BAD_IMAGE', `${what} ${file}: ${(e as Error).message}`);
  }
}

/** Short, unique names for the references: the file name, or the path as given where two share a file name. */
export function referenceNames(files: readonly string[]): string[] {
  const base = files.map((f) => path.basename(f));
  return files.map((f, i) => (base.filter((b) => b === base[i]).length > 1 ? f : base[i]!));
}

export function parseHeads(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1) throw new EvalError('BAD_ARGUMENT', `--csd-heads must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

/** Opens CSD when asked (the caller releases it). */
export async function openCsd(file: string | undefined, heads: number | undefined, compute: Awaited<ReturnType<typeof chooseCompute>>): Promise<StyleEmbedder | null> {
  if (file === undefined) return null;
  return CsdModel.open(file, { lowering: compute.lowering, session: compute.session, ...(heads !== undefined ? { heads } : {}) });
}

export async function runEval(images: readonly string[], o: EvalCliOptions): Promise<void> {
  if (images.length === 0) throw new EvalError('BAD_ARGUMENT', 'give at least one image to score');
  if (o.prompt === undefined || o.prompt.trim() === '') throw new EvalError('BAD_ARGUMENT', '--prompt is required (the prompt the images were made from)');
  const styles = o.style ?? [];
  if (styles.length === 0) throw new EvalError('BAD_ARGUMENT', '--style is required (one or more style reference images)');
  if (o.out === undefined || o.out === '') throw new EvalError('BAD_ARGUMENT', '--out DIR is required (eval.json and eval.csv go there)');
  for (const f of images) requireExisting('image', f, 'file');
  for (const f of styles) requireExisting('--style', f, 'file');
  if (o.csd !== undefined) requireExisting('--csd', o.csd, 'file');
  const heads = parseHeads(o.csdHeads);
  const preprocess = parsePreprocess(o.preprocess);
  const paths = resolveModelPaths(o);
  if (paths.imageEncoder === undefined) throw new EvalError('BAD_ARGUMENT', '--image-encoder DIR is required with --model (the image tower)');
  const names = referenceNames(styles);
  const references = new Map<string, RgbaImage>();
  for (const [i, f] of styles.entries()) references.set(names[i]!, await readImageOrFail('--style', f));
  const inputs = [];
  for (const f of images) {
    inputs.push({ id: f, image: await readImageOrFail('image', f), prompt: o.prompt, references: names, layoutGroup: o.prompt, style: f });
  }
  const compute = await chooseCompute(o);
  const towers = await ClipTowers.open({ model: paths.model, imageEncoder: paths.imageEncoder }, { ...compute, preprocess });
  let csd: StyleEmbedder | null = null;
  const bar = new ProgressBar(1 + references.size + inputs.length);
  try {
    csd = await openCsd(o.csd, heads, compute);
    const t0 = performance.now();
    const scores = await scoreImages(towers, csd, references, inputs, (done, _total, label) => bar.update(done, label));
    const records: ScoreRecord[] = scores.map((s) => ({ image: s.id, prompt: s.prompt, ...scoreColumns(s) }));
    fs.mkdirSync(o.out, { recursive: true });
    const files = writeScoreFiles(o.out, 'eval', records);
    process.stdout.write(formatTable(records.map(({ prompt: _prompt, ...r }) => r)));
    process.stdout.write(`wrote ${files.json} and ${files.csv} (${images.length} images, ${compute.provider}, ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  } catch (e) {
    bar.abandon();
    throw e;
  } finally {
    await Promise.all([towers.release(), csd?.release()]);
  }
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerEvalCommand(program: Command): void {
  program.command('eval')
    .description('score images: CLIP-T, style similarity (bigG, CSD) and layout agreement (docs/EVALUATION.md)')
    .argument('<images...>', 'images made from one prompt')
    .option('--prompt <text>', 'the prompt the images were made from')
    .option('--style <img>', 'style reference image (repeat for several)', collect, [])
    .option('--out <dir>', 'folder for eval.json and eval.csv')
    .option('--csd <file>', 'CSD weights (checkpoint.pth of github.com/learn2phoenix/CSD) for a second style score')
    .option('--csd-heads <n>', 'CSD attention heads (default width / 64, as CLIP ViT-L/14)')
    .option('--model <dir>', 'SDXL folder whose text_encoder_2 is the text tower (default: the default set in the hub cache)')
    .option('--image-encoder <dir>', 'CLIP image encoder folder (default: the default set\'s ViT-bigG)')
    .option('--models <dir>', 'hub cache holding the default set (default: HF_HUB_CACHE / HF_HOME / ~/.cache/huggingface/hub)')
    .option('--preprocess <lib>', 'transformers (default: CLIPImageProcessor) | open_clip (its eval transform)')
    .option('--provider <name>', 'cpu | cuda | dml | coreml | webgpu (default cpu; a GPU only after its self-check)')
    .option('--fp16', 'fp16 towers (default fp32)')
    .action(async (images: string[], opts: EvalCliOptions) => runEval(images, opts));
}
