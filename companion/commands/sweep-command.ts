/**
 * `stylestudio sweep --grid GRID.json --out DIR`: generates every cell of a grid (sweep-grid.ts) with ONE warm engine
 * (the OnnxGenerationEngine `serve` uses, so the same sessions, memory budget and admission), scores all images
 * (scorer.ts) and writes DIR/sweep.json, DIR/sweep.csv and the contact sheet DIR/index.html.
 *
 * Resumable: DIR/manifest.json lists the finished cells (written after each one, through a rename); a rerun of the
 * same grid skips them, a different grid in the same folder is refused. Ctrl+C stops at the next step boundary
 * and keeps what is finished. Scores are computed after the last cell, for all cells (seconds, against minutes of
 * generation), with the engine closed first so its sessions' memory is free for the towers.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { pilResize } from '../image/pil-resize';
import { encodePng, readImageFile, writePngFile, type RgbaImage } from '../image/rgba';
import { GenerationAborted, type GenerationRequest } from '../engine/engine';
import { OnnxGenerationEngine } from '../engine/onnx-engine';
import { ProgressBar } from './progress-bar';
import { parseBudget } from '../runtime/memory';
import { type ModelPaths, resolveVae } from '../runtime/model-paths';
import { modelsCacheDir } from '../weights/hub-layout';
import { ClipTowers } from '../eval/clip-towers';
import { contactSheetHtml } from '../eval/contact-sheet';
import { openCsd, parseHeads, readImageOrFail, referenceNames } from './eval-command';
import { chooseCompute, type ModelFlags, parsePreprocess, requireExisting, resolveModelPaths } from '../eval/eval-models';
import { EvalError } from '../eval/errors';
import { writeAtomically, writeScoreFiles, type ScoreRecord } from '../eval/score-files';
import { scoreImages, type StyleEmbedder } from '../eval/scorer';
import { axisLabel, readGridFile, type SweepCell, type SweepGrid } from '../eval/sweep-grid';

export interface SweepCliOptions extends ModelFlags {
  grid?: string;
  out?: string;
  memoryBudget?: string;
  csd?: string;
  csdHeads?: string;
  /** The image tower for scoring when it is not the adapter's image encoder. */
  evalImageEncoder?: string;
}

const MANIFEST_VERSION = 1;
const manifestSchema = z.strictObject({
  version: z.literal(MANIFEST_VERSION),
  grid: z.string(),
  /** Per finished cell: its image, its time, and the networks it had to load (warm cells load none). */
  cells: z.record(z.string(), z.strictObject({ image: z.string(), seconds: z.number(), loaded: z.array(z.string()).optional() })),
});
type Manifest = z.infer<typeof manifestSchema>;

export interface SweepSummary {
  readonly cells: number;
  readonly generated: number;
  readonly skipped: number;
  /** True when stopped by the signal before every cell was generated (nothing scored then). */
  readonly interrupted: boolean;
  readonly files?: { readonly json: string; readonly csv: string; readonly html: string };
}

const imageFile = (cell: SweepCell) => path.join('images', `${cell.id}.png`);

/** The folder's manifest for this grid: a fresh one, or the one a previous run of the same grid left. */
function openManifest(file: string, grid: SweepGrid): Manifest {
  if (!fs.existsSync(file)) return { version: MANIFEST_VERSION, grid: grid.digest, cells: {} };
  let parsed: Manifest;
  try {
    parsed = manifestSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch (e) {
    throw new EvalError('MANIFEST_CONFLICT', `${file} is not a sweep manifest (${(e as Error).message.split('\n')[0]}); use another --out folder or delete it`);
  }
  if (parsed.grid !== grid.digest) {
    throw new EvalError('MANIFEST_CONFLICT', `${file} belongs to another grid: use another --out folder, or delete the folder to start over`);
  }
  return parsed;
}

/** A cell as the engine's request: its GenerationSpec with the images' pixels (by file) and its one seed. */
function requestOf(cell: SweepCell, pixels: ReadonlyMap<string, RgbaImage>): GenerationRequest {
  // a grid refuses `init` and more references (sweep-grid.ts): cells are text-to-image with one style each
  const { style: _file, negativeStyle: _negative, init: _init, mask: _mask, extraStyles: _extra, extraNegativeStyles: _extraNegative, seed: _seed, ...settings } = cell.spec;
  return {
    ...settings, style: pixels.get(cell.style)!, seeds: [cell.seed],
    ...(cell.negativeStyle !== undefined ? { negativeStyle: pixels.get(cell.negativeStyle)! } : {}),
  };
}

/** The settled inputs of a run: model folders and the memory budget, checked before the output folder is touched. */
interface SweepSetup {
  readonly paths: ModelPaths;
  readonly budget: number | undefined;
}

function setUp(o: SweepCliOptions): SweepSetup {
  const paths = resolveModelPaths(o);
  if (paths.adapter === undefined || paths.imageEncoder === undefined) {
    throw new EvalError('BAD_ARGUMENT', 'a sweep over styles needs --adapter FILE and --image-encoder DIR with --model');
  }
  return { paths, budget: o.memoryBudget === undefined ? undefined : parseMemoryBudget(o.memoryBudget) };
}

async function generateCells(o: SweepCliOptions, setup: SweepSetup, grid: SweepGrid, pending: readonly SweepCell[], manifest: Manifest, manifestFile: string, signal: AbortSignal): Promise<number> {
  const { paths, budget } = setup;
  const vae = resolveVae(paths, modelsCacheDir(o.models));
  if (vae.note !== null) process.stderr.write(`note: ${vae.note}\n`);
  const compute = await chooseCompute(o);
  const pixels = new Map<string, RgbaImage>();
  for (const s of grid.styles) pixels.set(s, await readImageOrFail('style', s));
  for (const s of grid.negativeStyles) pixels.set(s, await readImageOrFail('negative style', s));
  const engine = await OnnxGenerationEngine.open({
    paths: vae.paths, provider: compute.provider, fp16: o.fp16 === true, ...(budget !== undefined ? { memoryBudget: budget } : {}),
  });
  const bar = new ProgressBar(pending.reduce((n, c) => n + c.spec.steps, 0));
  let steps = 0;
  let generated = 0;
  try {
    const status = engine.status();
    if (!status.ready) throw new EvalError('MODELS_UNAVAILABLE', `the engine cannot run: ${status.reason ?? 'not ready'}`);
    for (const cell of pending) {
      if (signal.aborted) break;
      const request = requestOf(cell, pixels);
      engine.admit(request);
      const t0 = performance.now();
      const label = `(${generated + 1}/${pending.length}) ${axisLabel(cell)}`;
      const loaded: string[] = [];
      const hooks = { signal, previewSide: 0, onStep: () => bar.update(++steps, label), onStage: (stage: string) => loaded.push(stage) };
      for await (const image of engine.generate(request, hooks)) {
        await writePngAtomically(image.image, path.join(path.dirname(manifestFile), imageFile(cell)));
      }
      if (signal.aborted) break; // the engine ends a cancelled request without an image
      manifest.cells[cell.id] = { image: imageFile(cell), seconds: (performance.now() - t0) / 1000, loaded };
      writeAtomically(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
      generated++;
    }
  } catch (e) {
    bar.abandon();
    if (!(e instanceof GenerationAborted)) throw e;
  } finally {
    await engine.close();
  }
  if (signal.aborted) bar.abandon();
  return generated;
}

function parseMemoryBudget(text: string): number {
  try {
    return parseBudget(text);
  } catch (e) {
    throw new EvalError('BAD_ARGUMENT', `--memory-budget: ${(e as Error).message}`);
  }
}

/** PNG through a temporary file and a rename, so a killed run never leaves half an image under a finished name. */
function writePngAtomically(image: RgbaImage, file: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}.png`;
  return writePngFile(image, tmp).then(() => fs.renameSync(tmp, file));
}

async function scoreSweep(o: SweepCliOptions, { paths }: SweepSetup, grid: SweepGrid, out: string, manifest: Manifest): Promise<NonNullable<SweepSummary['files']>> {
  const imageEncoder = o.evalImageEncoder ?? paths.imageEncoder!;
  const names = referenceNames(grid.styles);
  const nameOf = new Map(grid.styles.map((s, i) => [s, names[i]!]));
  const references = new Map<string, RgbaImage>();
  for (const s of grid.styles) references.set(nameOf.get(s)!, await readImageOrFail('style', s));
  const images = new Map<string, RgbaImage>();
  for (const cell of grid.cells) images.set(cell.id, await readImageFile(path.join(out, manifest.cells[cell.id]!.image)));
  const inputs = grid.cells.map((cell) => ({
    id: cell.id, image: images.get(cell.id)!, prompt: cell.prompt, references: [nameOf.get(cell.style)!],
    // one prompt, seed and setting made with different styles: layout should not change with the style
    layoutGroup: JSON.stringify([cell.prompt, cell.seed, cell.axes]), style: cell.style,
  }));
  const compute = await chooseCompute(o);
  const towers = await ClipTowers.open({ model: paths.model, imageEncoder }, { ...compute, preprocess: parsePreprocess(o.preprocess) });
  let csd: StyleEmbedder | null = null;
  const bar = new ProgressBar(new Set(inputs.map((i) => i.prompt)).size + references.size + inputs.length);
  try {
    csd = await openCsd(o.csd, parseHeads(o.csdHeads), compute);
    const scores = await scoreImages(towers, csd, references, inputs, (done, _total, label) => bar.update(done, `scoring ${label}`));
    const records: ScoreRecord[] = grid.cells.map((cell, i) => {
      const s = scores[i]!;
      const style = s.style[0]!;
      return {
        cell: cell.id, image: manifest.cells[cell.id]!.image, prompt: cell.prompt, style: nameOf.get(cell.style)!, seed: cell.seed,
        ...Object.fromEntries(grid.axisNames.map((a) => [a, axisText(cell.axes[a])])),
        clip_t: s.clipT, style_clip: style.clip, ...(style.csd !== undefined ? { style_csd: style.csd } : {}),
        layout: s.layout, layout_pairs: s.layoutPairs, seconds: manifest.cells[cell.id]!.seconds,
      };
    });
    const files = writeScoreFiles(out, 'sweep', records);
    const scoreNames = ['clip_t', 'style_clip', ...(csd ? ['style_csd'] : []), 'layout'];
    const html = path.join(out, 'index.html');
    const thumbnails = await Promise.all(grid.cells.map((cell) => thumbnailPng(images.get(cell.id)!, THUMBNAIL_SIDE)));
    writeAtomically(html, contactSheetHtml(grid.cells.map((cell, i) => ({
      id: cell.id, png: thumbnails[i]!, link: manifest.cells[cell.id]!.image.split(path.sep).join('/'), prompt: cell.prompt,
      style: nameOf.get(cell.style)!, seed: cell.seed,
      axes: Object.fromEntries(grid.axisNames.map((a) => [a, axisText(cell.axes[a])])),
      scores: Object.fromEntries(scoreNames.map((n) => [n, records[i]![n] as number | null])),
    })), {
      title: `StyleStudio sweep: ${grid.cells.length} images`, scoreNames, axisNames: grid.axisNames,
      references: await Promise.all([...references].map(async ([name, img]) => ({ name, png: await thumbnailPng(img, THUMBNAIL_SIDE / 2) }))),
    }));
    return { ...files, html };
  } catch (e) {
    bar.abandon();
    throw e;
  } finally {
    await Promise.all([towers.release(), csd?.release()]);
  }
}

/**
 * Longest side of the contact sheet's pictures: 288 cells of 1024² as inlined full-size PNGs would make a sheet of
 * ~400 MB that no browser opens comfortably; at 256 px it stays in the tens of MB.
 */
const THUMBNAIL_SIDE = 256;

/** The image shrunk with Pillow's bicubic (antialiased) resize so its longest side is at most `side`, as PNG. */
export function thumbnailPng(image: RgbaImage, side: number): Promise<Buffer> {
  const scale = side / Math.max(image.width, image.height);
  if (scale >= 1) return encodePng(image);
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  const small = pilResize({ ...image, channels: 4 }, width, height, 'bicubic');
  return encodePng({ width, height, data: small.data });
}

function axisText(v: unknown): string {
  return v === null ? 'off' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export async function runSweep(o: SweepCliOptions, signal: AbortSignal = new AbortController().signal): Promise<SweepSummary> {
  if (o.grid === undefined || o.grid === '') throw new EvalError('BAD_ARGUMENT', '--grid FILE is required (docs/EVALUATION.md shows one)');
  if (o.out === undefined || o.out === '') throw new EvalError('BAD_ARGUMENT', '--out DIR is required (images, manifest, scores and the contact sheet go there)');
  if (o.csd !== undefined) requireExisting('--csd', o.csd, 'file');
  if (o.evalImageEncoder !== undefined) requireExisting('--eval-image-encoder', o.evalImageEncoder, 'dir');
  parseHeads(o.csdHeads);
  parsePreprocess(o.preprocess);
  const setup = setUp(o);
  const grid = readGridFile(o.grid);
  fs.mkdirSync(path.join(o.out, 'images'), { recursive: true });
  const manifestFile = path.join(o.out, 'manifest.json');
  const manifest = openManifest(manifestFile, grid);
  const finished = (c: SweepCell) => manifest.cells[c.id] !== undefined && fs.existsSync(path.join(o.out!, manifest.cells[c.id]!.image));
  const pending = grid.cells.filter((c) => !finished(c));
  const skipped = grid.cells.length - pending.length;
  if (skipped > 0) process.stderr.write(`resuming: ${skipped} of ${grid.cells.length} cells already finished\n`);
  const generated = pending.length > 0 ? await generateCells(o, setup, grid, pending, manifest, manifestFile, signal) : 0;
  if (skipped + generated < grid.cells.length) return { cells: grid.cells.length, generated, skipped, interrupted: true };
  const files = await scoreSweep(o, setup, grid, o.out, manifest);
  return { cells: grid.cells.length, generated, skipped, interrupted: false, files };
}

export function registerSweepCommand(program: Command): void {
  program.command('sweep')
    .description('generate a grid of settings × prompts × styles × seeds with one warm engine, score it and write a contact sheet')
    .option('--grid <file.json>', 'the grid (docs/EVALUATION.md)')
    .option('--out <dir>', 'folder for images, manifest.json (resume), sweep.json, sweep.csv and index.html')
    .option('--model <dir>', 'SDXL diffusers folder (default: the default set in the hub cache)')
    .option('--adapter <file>', 'style adapter weights (with --model)')
    .option('--image-encoder <dir>', 'CLIP image encoder folder for the adapter (with --model); also the scoring tower')
    .option('--eval-image-encoder <dir>', 'a different image tower for scoring (must pair with text_encoder_2)')
    .option('--vae <dir>', 'VAE folder replacing the model\'s vae/')
    .option('--models <dir>', 'hub cache holding the default set (default: HF_HUB_CACHE / HF_HOME / ~/.cache/huggingface/hub)')
    .option('--csd <file>', 'CSD weights for a second style score')
    .option('--csd-heads <n>', 'CSD attention heads (default width / 64)')
    .option('--preprocess <lib>', 'CLIP image preprocessing of the scores: transformers (default) | open_clip')
    .option('--provider <name>', 'cpu | cuda | dml | coreml | webgpu (default cpu; a GPU only after its self-check)')
    .option('--fp16', 'fp16 weights and activations')
    .option('--memory-budget <size>', 'memory the engine may keep resident, e.g. 12GiB')
    .action(async (opts: SweepCliOptions) => {
      const stop = new AbortController();
      const abort = () => stop.abort();
      process.once('SIGINT', abort);
      process.once('SIGTERM', abort);
      const t0 = performance.now();
      const s = await runSweep(opts, stop.signal);
      if (s.interrupted) {
        process.stderr.write(`stopped: ${s.skipped + s.generated} of ${s.cells} cells finished; run the same command again to continue\n`);
        process.exitCode = 130;
        return;
      }
      process.stdout.write(`${s.cells} cells (${s.generated} generated, ${s.skipped} from an earlier run) in ${((performance.now() - t0) / 1000).toFixed(1)} s: ` +
        `wrote ${s.files!.html}, ${s.files!.json}, ${s.files!.csv}\n`);
    });
}
