/**
 * `stylestudio generate` and `stylestudio encode`: the command-line front of the pipeline.
 *
 * Every input is checked before any network is built (options, files, output folders), so a mistake costs
 * nothing and leaves nothing behind; outputs are written through a temporary file and a rename. With
 * `--variations K` (K > 1) the images are OUT-0.png … OUT-(K−1).png (and the latents SAVE-k.npy), in seed order.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { readImageFile, writePngFile } from '../image/rgba';
import { loweringFor } from '../onnx/lowering';
import { chooseVerified } from '../onnx/self-check';
import { ModelSet } from '../runtime/model-set';
import { resolveVae } from '../runtime/model-paths';
import { formatMemoryPlan } from '../runtime/memory';
import { modelsCacheDir } from '../weights/hub-layout';
import { resolveModelSource, resolveStyleFiles } from '../weights/model-source';
import { type GenerateCliOptions, planGenerate, type Provider, UsageError } from './generate-options';
import { readNpy, writeNpy } from '../pipeline/npy';
import { ProgressBar } from './progress-bar';
import { StyleStudioPipeline } from '../pipeline/stylestudio-pipeline';
import { SCHEDULER_NAMES } from '../schedulers';
import { toFloat32 } from '../pipeline/tensors';
import { outputSizeFor } from '../image/init-image';
import { denoiseSteps, DROP_ELEMENTS, SPEC_DEFAULTS, SPEC_LIMITS } from '../../protocol';
import { PresetExistsError } from '../presets/errors';
import { presetsDir, PresetStore } from '../presets/store';
import { configDir } from '../server/token';
import { adapterMismatch, composedPrompt, type PresetCliOptions, presetFromOptions, withPreset } from './preset-options';

/** generate's preset flags: apply one, save the run's settings as one. */
export interface GeneratePresetFlags {
  stylePreset?: string;
  savePreset?: string;
  overwritePreset?: boolean;
}

/** OUT.png for one variation, OUT-k.png for several (the extension stays last). */
export function variationPath(file: string, index: number, count: number): string {
  if (count === 1) return file;
  const ext = path.extname(file);
  return `${file.slice(0, file.length - ext.length)}-${index}${ext}`;
}

function checkInputFile(flag: string, file: string, kind: 'file' | 'dir'): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new UsageError(`${flag} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
  }
  if (kind === 'dir' && !st.isDirectory()) throw new UsageError(`${flag} ${file}: not a directory`);
  if (kind === 'file' && !st.isFile()) throw new UsageError(`${flag} ${file}: not a file`);
}

function checkOutputFile(flag: string, file: string, ext: string): void {
  if (path.extname(file).toLowerCase() !== ext) throw new UsageError(`${flag} ${file}: must end in ${ext}`);
  const dir = path.dirname(path.resolve(file));
  try {
    if (!fs.statSync(dir).isDirectory()) throw new Error('not a directory');
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    throw new UsageError(`${flag} ${file}: cannot write into ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new UsageError(`${flag} ${file}: is a directory`);
}

async function readInput<T>(flag: string, read: () => Promise<T> | T): Promise<T> {
  try {
    return await read();
  } catch (e) {
    throw new UsageError(`${flag}: ${(e as Error).message}`);
  }
}

export async function runGenerate(flags: GenerateCliOptions & GeneratePresetFlags): Promise<void> {
  const { stylePreset, savePreset, overwritePreset, ...given } = flags;
  const store = new PresetStore(presetsDir(configDir()));
  const loaded = stylePreset !== undefined ? store.resolve(stylePreset) : undefined;
  const options: PresetCliOptions = loaded !== undefined ? withPreset(given, loaded) : given;
  const source = resolveModelSource(options, { cacheDir: modelsCacheDir() });
  const styleFiles = resolveStyleFiles(options);
  const prompt = composedPrompt(options);
  const cliOptions = { ...options, ...(prompt !== undefined ? { prompt } : {}), ...(source !== undefined ? { model: source.model } : {}), ...styleFiles };
  let plan = planGenerate(cliOptions);
  const mismatch = loaded !== undefined ? adapterMismatch(loaded.preset, plan.adapter) : null;
  if (mismatch !== null) process.stderr.write(`note: ${mismatch}\n`);
  if (savePreset !== undefined && overwritePreset !== true && store.has(savePreset)) {
    throw new PresetExistsError(`preset ${JSON.stringify(savePreset)} exists; add --overwrite-preset to replace it`);
  }
  // read (and checked) before anything loads; written only once the images are
  const toSave = savePreset !== undefined ? await presetFromOptions(savePreset, { ...options, ...styleFiles }) : undefined;
  const init = plan.initPath !== undefined ? await readInput('--init', () => readImageFile(plan.initPath!)) : undefined;
  const mask = plan.maskPath !== undefined ? await readInput('--mask', () => readImageFile(plan.maskPath!)) : undefined;
  if (init !== undefined && plan.sizeFromInit) {
    // the init image's aspect: from the side given, else at the default long side
    const [width, height] = outputSizeFor(init.width, init.height, {
      ...(options.width !== undefined ? { width: plan.request.width } : {}), ...(options.height !== undefined ? { height: plan.request.height } : {}),
    }, Math.max(SPEC_DEFAULTS.width, SPEC_DEFAULTS.height), SPEC_LIMITS.sizeStride);
    plan = planGenerate({ ...cliOptions, width: String(width), height: String(height) });
  }
  checkInputFile(source?.modelConfig !== undefined ? '--checkpoint' : '--model', plan.model, source?.modelConfig !== undefined ? 'file' : 'dir');
  if (plan.adapter !== undefined) checkInputFile('--adapter', plan.adapter, 'file');
  if (plan.imageEncoder !== undefined) checkInputFile('--image-encoder', plan.imageEncoder, /\.safetensors$/i.test(plan.imageEncoder) ? 'file' : 'dir');
  if (plan.vae !== undefined) checkInputFile('--vae', plan.vae, 'dir');
  checkOutputFile('--out', plan.out, '.png');
  if (plan.saveLatentsPath !== undefined) checkOutputFile('--save-latents', plan.saveLatentsPath, '.npy');
  const styles = await Promise.all(plan.stylePaths.map((file) => readInput('--style', () => readImageFile(file))));
  const negatives = await Promise.all(plan.negativeStylePaths.map((file) => readInput('--negative-style', () => readImageFile(file))));
  const latents = plan.latentsPath !== undefined ? await readInput('--latents', () => readNpy(plan.latentsPath!)) : undefined;
  if (latents !== undefined && plan.request.variations !== 1) throw new UsageError('--latents gives one starting noise: it cannot be combined with --variations > 1');

  const vae = resolveVae({
    model: plan.model,
    ...(source?.modelConfig !== undefined ? { modelConfig: source.modelConfig } : {}),
    ...(plan.adapter !== undefined ? { adapter: plan.adapter } : {}),
    ...(plan.imageEncoder !== undefined ? { imageEncoder: plan.imageEncoder } : {}),
    ...(plan.vae !== undefined ? { vae: plan.vae } : {}),
  }, modelsCacheDir());
  if (vae.note !== null) process.stderr.write(`note: ${vae.note}\n`);
  if (!plan.planOnly) {
    // a GPU provider is used only once its self-check passes (onnx/self-check.ts; cached per driver and version);
    // --plan loads nothing, so it plans for any provider
    const verified = await chooseVerified(plan.provider, loweringFor(plan.provider, plan.fp16 ? 'fp16' : undefined));
    if (verified.message) throw new UsageError(`--provider ${plan.provider}: ${verified.message.replace(/; running on the CPU instead$/, '')}`);
  }
  const models = await ModelSet.open(vae.paths, {
    provider: plan.provider, fp16: plan.fp16, ...(plan.memoryBudget !== undefined ? { memoryBudget: plan.memoryBudget } : {}),
  });
  const request = {
    ...plan.request,
    ...(styles.length > 0 ? { style: styles[0]! } : {}),
    ...(styles.length > 1 ? { extraStyles: styles.slice(1).map((image, i) => ({ image, weight: plan.extraStyleWeights[i]! })) } : {}),
    ...(negatives.length > 0 ? { negativeStyle: negatives[0]! } : {}),
    ...(negatives.length > 1 ? { extraNegativeStyles: negatives.slice(1) } : {}),
    ...(init ? { init } : {}),
    ...(mask ? { mask } : {}),
    ...(latents ? { latents } : {}),
  };
  const runSteps = init !== undefined ? denoiseSteps(plan.request.steps, plan.request.denoise ?? SPEC_DEFAULTS.denoise) : plan.request.steps;
  const total = runSteps * plan.request.variations;
  const bar = new ProgressBar(total);
  try {
    const pipeline = new StyleStudioPipeline(models);
    if (plan.planOnly) {
      process.stdout.write(formatMemoryPlan(pipeline.plan(request).memory));
      return;
    }
    let done = 0;
    const result = await pipeline.generate(request, {
      onStep: (p) => bar.update(++done, plan.request.variations > 1 ? `(variation ${p.variation + 1}/${plan.request.variations})` : ''),
    });
    const k = result.variations.length;
    const written: string[] = [];
    for (const v of result.variations) {
      const out = variationPath(plan.out, v.index, k);
      await writePngFile(v.image!, out);
      written.push(`${out} (seed ${v.seed})`);
      if (plan.saveLatentsPath !== undefined) writeNpy(variationPath(plan.saveLatentsPath, v.index, k), v.latents);
    }
    for (const note of models.notes) process.stderr.write(`note: ${note}\n`);
    if (toSave !== undefined) {
      await store.save(toSave, { overwrite: overwritePreset === true });
      written.push(`preset ${toSave.name}`);
    }
    const steps = runSteps === plan.request.steps ? `${runSteps} steps` : `${runSteps} of ${plan.request.steps} steps (denoise ${plan.request.denoise})`;
    process.stdout.write(`wrote ${written.join(', ')}: ${steps}, ${result.scheduler}, ` +
      `unet-row-evals=${result.unetRowEvaluations}, ${result.seconds.perStep.toFixed(3)} s/step, ${result.seconds.total.toFixed(1)} s total\n`);
  } catch (e) {
    bar.abandon();
    throw e;
  } finally {
    await models.close();
  }
}

export interface EncodeCliOptions {
  model?: string;
  checkpoint?: string;
  modelConfig?: string;
  modelRoot?: string[];
  prompt?: string;
  negativePrompt?: string;
  provider?: string;
  fp16?: boolean;
}

/** Shape, statistics and a digest of the float32 bytes: enough to compare two runs or two machines at a glance. */
export function tensorSummary(name: string, dims: readonly number[], data: Float32Array): string {
  let sum = 0;
  let sq = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of data) {
    sum += v;
    sq += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const n = data.length;
  const mean = sum / n;
  const std = Math.sqrt(Math.max(0, sq / n - mean * mean));
  const digest = createHash('sha256').update(Buffer.from(data.buffer, data.byteOffset, data.byteLength)).digest('hex').slice(0, 16);
  const g = (v: number) => v.toPrecision(6);
  return `${name} [${dims.join(', ')}] mean=${g(mean)} std=${g(std)} min=${g(min)} max=${g(max)} l2=${g(Math.sqrt(sq))} sha256=${digest}`;
}

export async function runEncode(o: EncodeCliOptions): Promise<void> {
  if (o.model === '') throw new UsageError('--model is required');
  const source = resolveModelSource(o, { cacheDir: modelsCacheDir() });
  if (source === undefined) throw new UsageError('--model DIR or --checkpoint FILE is required');
  if (o.prompt === undefined) throw new UsageError('--prompt is required');
  const single = source.modelConfig !== undefined;
  checkInputFile(single ? '--checkpoint' : '--model', source.model, single ? 'file' : 'dir');
  const providers: readonly Provider[] = ['cpu', 'cuda', 'dml', 'coreml', 'webgpu'];
  const provider = (o.provider ?? 'cpu') as Provider;
  if (!providers.includes(provider)) throw new UsageError(`--provider must be one of ${providers.join(', ')}, got ${JSON.stringify(o.provider)}`);
  const models = await ModelSet.open(source, { provider, fp16: o.fp16 === true });
  try {
    const enc = await models.textEncoders();
    const zeros = o.negativePrompt === undefined && models.forceZerosForEmptyPrompt;
    const out = await enc.value.encode({
      prompt: models.tokenize(o.prompt),
      ...(zeros ? {} : { negative: models.tokenize(o.negativePrompt ?? '') }),
    });
    enc.done();
    const count = models.tokenizer.encode(o.prompt).length;
    const lines = [
      `tokens: ${Math.min(count, 77)} of 77${count > 77 ? ` (${count - 77} truncated)` : ''}; negative: ${zeros ? 'zeros (force_zeros_for_empty_prompt)' : JSON.stringify(o.negativePrompt ?? '')}`,
      tensorSummary('prompt_embeds', out.promptEmbeds.dims, toFloat32(out.promptEmbeds, 'prompt_embeds')),
      tensorSummary('pooled_prompt_embeds', out.pooledPromptEmbeds.dims, toFloat32(out.pooledPromptEmbeds, 'pooled')),
      tensorSummary('negative_prompt_embeds', out.negativePromptEmbeds.dims, toFloat32(out.negativePromptEmbeds, 'negative_prompt_embeds')),
      tensorSummary('negative_pooled_prompt_embeds', out.negativePooledPromptEmbeds.dims, toFloat32(out.negativePooledPromptEmbeds, 'negative pooled')),
    ];
    for (const note of models.notes) lines.push(`note: ${note}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await models.close();
  }
}

/** commander: a repeatable option's values in order. */
const collectRepeats = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Adds `generate` and `encode` to the program. */
export function registerPipelineCommands(program: Command): void {
  program.command('generate')
    .description('generate an image: SDXL text-to-image, with a style image the StyleStudio method')
    .option('--model <dir>', 'SDXL diffusers folder')
    .option('--checkpoint <file|name>', 'single-file SDXL checkpoint (.safetensors), or its name under --model-root (instead of --model)')
    .option('--model-config <dir|sdxl-base>', 'configs for --checkpoint: a diffusers folder, or the built-in sdxl-base (default)')
    .option('--model-root <dir>', 'ComfyUI or AUTOMATIC1111 folder to find --checkpoint / --adapter / --image-encoder NAME in (repeatable; adds to STYLESTUDIO_MODEL_ROOTS)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--prompt <text>', 'prompt')
    .option('--out <file.png>', 'output PNG (with --variations K: OUT-0.png … OUT-(K-1).png)')
    .option('--adapter <file>', 'style adapter weights (CSGO csgo_4_32.bin, h94 ip-adapter_sdxl, ip-adapter-plus), or an IP-Adapter\'s name under --model-root')
    .option('--image-encoder <dir|file>', 'CLIP image encoder for the adapter: its folder, a ComfyUI clip_vision .safetensors, or its name under --model-root')
    .option('--style <img>', 'style image; repeat for several references (up to 5), their tokens side by side', collectRepeats)
    .option('--style-weights <w,w,…>', 'one weight 0..1 per --style, relative (default all 1): weight w counts an image w times')
    .option('--negative-prompt <text>', 'negative prompt (absent: zero embeddings, or "" with AdaIN)')
    .option('--negative-style <img>', 'negative style image for style-based CFG; repeat for several', collectRepeats)
    .option('--drop <elements>', `leave elements of the style out: SCFG's negative derived from the style image; ${DROP_ELEMENTS.join(', ')}, several comma-separated [our extension]`)
    .option('--init <img>', 'restyle this image (img2img); without --width/--height the output keeps its aspect, long side 1024')
    .option('--mask <img>', 'with --init: inpaint, redrawing only where the mask is white (≥ 50 %); the rest keeps the init image')
    .option('--denoise <d>', 'with --init: how much of it is redrawn, 0..1 (default 0.6; steps run = int(steps × d))')
    .option('--steps <n>', 'denoising steps (default 50)')
    .option('--guidance <g>', 'CFG scale (default 5)')
    .option('--seed <s>', 'seed of the first variation (default random)')
    .option('--variations <k>', 'images, seeds s, s+1, … (default 1)')
    .option('--width <w>', 'width in pixels (default 1024)')
    .option('--height <h>', 'height in pixels (default 1024)')
    .option('--adain', 'cross-modal AdaIN (the default; overrides a preset made with --no-adain)')
    .option('--no-adain', 'IP-Adapter weighted sum instead of cross-modal AdaIN')
    .option('--adain-strength <a>', 'blend of AdaIN into the weighted sum, 0..1 (default 1 = the paper)')
    .option('--scale <x>', 'adapter scale of the weighted sum (default 1)')
    .option('--strength <s>', 'one style strength 0..1 setting --scale and --adain-strength together (0.8 = their defaults; docs/PROTOCOL.md)')
    .option('--style-layers <spec>', 'all | up_blocks | NAME[,NAME…] (default: the adapter\'s StyleStudio layers)')
    .option('--style-resize <mode>', 'none (default, CLIP preprocessing only) | square512 (official CLI squash)')
    .option('--teacher-steps <t>', 'steps with the teacher (default 2/5 of the steps; with --init, of the steps that run)')
    .option('--no-teacher', 'switch the teacher model off')
    .option('--scheduler <name>', `${SCHEDULER_NAMES.join(' | ')} (default: the folder's scheduler)`)
    .option('--provider <name>', 'cpu | cuda | dml | coreml | webgpu (default cpu)')
    .option('--fp16', 'fp16 weights and activations')
    .option('--latents <in.npy>', 'starting noise, float32 [1, 4, H/8, W/8] (diffusers latents=)')
    .option('--save-latents <out.npy>', 'write the final latents before the VAE')
    .option('--vae <dir>', 'VAE folder replacing the model\'s vae/ (default: its own, else the fp16-fix VAE from the hub cache)')
    .option('--memory-budget <size>', 'memory the engine may keep resident, e.g. 12GiB (default: 60% of RAM on the CPU, 8 GiB on a GPU)')
    .option('--plan', 'print the memory each phase needs for these settings and stop')
    .option('--style-preset <name|dir>', 'take the reference image, style elements and settings from a saved preset (stylestudio presets list); flags given here override its values')
    .option('--save-preset <name>', 'after the run, save its reference, elements and settings as a preset (seed policy: fixed with --seed, else random)')
    .option('--overwrite-preset', 'let --save-preset replace an existing preset')
    .action(async (opts: GenerateCliOptions & GeneratePresetFlags) => runGenerate(opts));
  program.command('encode')
    .description('encode a prompt with a model\'s text encoders and print shapes and a summary')
    .option('--model <dir>', 'SDXL diffusers folder')
    .option('--checkpoint <file|name>', 'single-file SDXL checkpoint (.safetensors, or its name under --model-root) instead of --model')
    .option('--model-config <dir|sdxl-base>', 'configs for --checkpoint: a diffusers folder, or the built-in sdxl-base (default)')
    .option('--model-root <dir>', 'ComfyUI or AUTOMATIC1111 folder to find --checkpoint NAME in (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--prompt <text>', 'prompt')
    .option('--negative-prompt <text>', 'negative prompt (absent: zeros when the model forces them)')
    .option('--provider <name>', 'cpu | cuda | dml | coreml | webgpu (default cpu)')
    .option('--fp16', 'fp16 weights and activations')
    .action(async (opts: EncodeCliOptions) => runEncode(opts));
}
