/**
 * Which files a model set is opened from: the SDXL folder, the VAE that replaces its own (the default set ships the
 * base snapshot's vae/ as config.json only, since the fp16-fix VAE replaces it), the adapter and image encoder.
 * Every weight file's header is read here, before any heavy work, so a missing or partial file fails at once with
 * the fix.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_MODELS } from '../weights/default-models';
import { type DiffusersComponent, type DiffusersFolder, openComponentFolder, openDiffusersFolder, type WeightOptions } from '../weights/diffusers';
import { openImageEncoder } from '../weights/image-encoder-source';
import { modelStatus, type ModelStatus } from '../weights/model-catalog';
import {
  openSingleFileModel, openWeightSource, readSingleFileCheckpoint, type SingleFileModelOptions, type WeightSource, weightSourceFile,
} from '../weights/single-file';
import { EngineError } from './errors';

export interface ModelPaths {
  /**
   * SDXL diffusers folder (model_index.json, unet/, vae/, text_encoder(_2)/, tokenizer(_2)/, scheduler/), or with
   * `modelConfig` a single-file checkpoint (.safetensors in the original SDXL layout).
   */
  readonly model: string;
  /** For a single-file `model`: where its configs (and tokenizers) are (weights/single-file.ts). */
  readonly modelConfig?: SingleFileModelOptions;
  /** Style adapter weights (h94 IP-Adapter / Plus, CSGO), .safetensors or .bin. */
  readonly adapter?: string;
  /** CLIPVisionModelWithProjection folder (config.json + model.safetensors), or a ComfyUI clip_vision .safetensors. */
  readonly imageEncoder?: string;
  /** A VAE folder that replaces the model's vae/ (e.g. madebyollin/sdxl-vae-fp16-fix). */
  readonly vae?: string;
}

/** The model as the loaders take it: the diffusers folder, or the single-file checkpoint presented as one. */
export function openModelFolder(paths: ModelPaths): DiffusersFolder {
  return paths.modelConfig === undefined ? openDiffusersFolder(paths.model) : openSingleFileModel(paths.model, paths.modelConfig);
}

const FP16_FIX = DEFAULT_MODELS.find((m) => m.id === 'sdxl-vae-fp16-fix')!;

function hasWeights(c: DiffusersComponent, options: WeightOptions): boolean {
  try {
    c.weights(options);
    return true;
  } catch {
    return false;
  }
}

/**
 * `paths` with the VAE settled: an explicit `vae` as given; else the model's own vae/ when it holds weights; else
 * the fp16-fix VAE from the hub cache `cacheDir` (with a note). Throws MODEL_FILES_MISSING naming both fixes.
 */
export function resolveVae(paths: ModelPaths, cacheDir: string | undefined): { paths: ModelPaths; note: string | null } {
  if (paths.vae !== undefined) return { paths, note: null };
  const folder = openModelFolder(paths); // a broken model is reported as such, not as a VAE problem
  let own: DiffusersComponent | null = null;
  try {
    own = folder.component('vae');
  } catch {
    own = null;
  }
  if (own !== null && hasWeights(own, {})) return { paths, note: null };
  const fix = cacheDir !== undefined ? modelStatus(cacheDir, FP16_FIX) : null;
  if (fix?.present === true && fix.snapshotDir !== undefined) {
    const lacking = paths.modelConfig === undefined ? `${path.join(paths.model, 'vae')} has no weights` : `the checkpoint ${paths.model} has no VAE`;
    return { paths: { ...paths, vae: fix.snapshotDir }, note: `${lacking}: using ${FP16_FIX.repo} from the hub cache` };
  }
  const lacking = paths.modelConfig === undefined
    ? `${path.join(paths.model, 'vae')} has no weights (the default set replaces the base VAE with ${FP16_FIX.repo})`
    : `the checkpoint ${paths.model} has no VAE (no first_stage_model.* tensors)`;
  throw new EngineError('MODEL_FILES_MISSING', `${lacking}: give --vae DIR, or run \`stylestudio models pull ${FP16_FIX.id}\``);
}

/**
 * Reads the header of every weight file a set will use (milliseconds): an absent file fails as MODEL_FILES_MISSING,
 * a truncated or malformed one as MODEL_FILES_INVALID, each naming the file.
 */
export function checkWeightFiles(paths: ModelPaths, weightOptions: WeightOptions): void {
  const files: [string, () => WeightSource][] = [];
  for (const [what, dir] of [[paths.modelConfig === undefined ? 'model folder' : 'checkpoint', paths.model], ['--vae', paths.vae], ['image encoder', paths.imageEncoder]] as const) {
    if (dir !== undefined && !fs.existsSync(dir)) throw new EngineError('MODEL_FILES_MISSING', `${what} ${dir} does not exist`);
  }
  let folder: DiffusersFolder;
  try {
    folder = openModelFolder(paths);
  } catch (e) {
    throw new EngineError('MODEL_FILES_INVALID', (e as Error).message);
  }
  for (const name of ['unet', 'text_encoder', 'text_encoder_2']) files.push([name, () => folder.component(name).weights(weightOptions).source]);
  files.push(paths.vae === undefined ? ['vae', () => folder.component('vae').weights({}).source] : ['--vae', () => openComponentFolder(paths.vae!, 'vae').weights({}).source]);
  if (paths.imageEncoder !== undefined) files.push(['image encoder', () => openImageEncoder(paths.imageEncoder!).weights().source]);
  if (paths.adapter !== undefined) files.push(['adapter', () => paths.adapter!]);
  for (const [what, locate] of files) {
    let source: WeightSource;
    try {
      source = locate();
    } catch (e) {
      throw new EngineError('MODEL_FILES_MISSING', `${what}: ${(e as Error).message}`);
    }
    const file = weightSourceFile(source);
    if (!fs.existsSync(file)) throw new EngineError('MODEL_FILES_MISSING', `${what}: ${file} does not exist`);
    try {
      openWeightSource(source);
    } catch (e) {
      throw new EngineError('MODEL_FILES_INVALID', `${(e as Error).message} (delete it and run \`stylestudio models pull\`, or replace it)`);
    }
  }
}

/**
 * The default set's files as model paths, from the hub-cache statuses; null when a model is not present. With `base`
 * (`serve --checkpoint`), that model replaces SDXL base with its own VAE, so neither download is needed (a checkpoint
 * without a VAE fails the weight check as MODEL_FILES_MISSING).
 */
export function defaultSetPaths(models: readonly ModelStatus[], base?: Pick<ModelPaths, 'model' | 'modelConfig'>): ModelPaths | null {
  const dir = (id: string): string | undefined => models.find((m) => m.spec.id === id && m.present)?.snapshotDir;
  const [csgo, encoder] = ['csgo-adapter', 'image-encoder'].map(dir);
  if (csgo === undefined || encoder === undefined) return null;
  const style = { adapter: path.join(csgo, 'csgo_4_32.bin'), imageEncoder: path.join(encoder, 'sdxl_models', 'image_encoder') };
  if (base !== undefined) return { ...base, ...style };
  const [sdxl, vae] = ['sdxl-base', 'sdxl-vae-fp16-fix'].map(dir);
  if (sdxl === undefined || vae === undefined) return null;
  return { model: sdxl, vae, ...style };
}

/**
 * The default-set models a set needs from the hub cache: all of them; for a `base` checkpoint neither SDXL base nor,
 * when the checkpoint has its own VAE, the fp16-fix VAE (a checkpoint without one borrows it, see resolveVae).
 */
export function neededDefaultModels(models: readonly ModelStatus[], base?: Pick<ModelPaths, 'model'>): ModelStatus[] {
  if (base === undefined) return [...models];
  const ownVae = checkpointHasVae(base.model);
  return models.filter((m) => m.spec.id !== 'sdxl-base' && (m.spec.id !== FP16_FIX.id || !ownVae));
}

const vaeVerdicts = new Map<string, { readonly stamp: string; readonly hasVae: boolean }>();

/**
 * Whether a single-file checkpoint holds a VAE; an unreadable one counts as yes (opening it reports the problem).
 * Asked for every `welcome`, so the header is read once per file version (size + mtime).
 */
function checkpointHasVae(file: string): boolean {
  let stamp: string;
  try {
    const st = fs.statSync(file);
    stamp = `${st.size}:${st.mtimeMs}`;
  } catch {
    return true;
  }
  const known = vaeVerdicts.get(file);
  if (known?.stamp === stamp) return known.hasVae;
  let hasVae = true;
  try {
    hasVae = readSingleFileCheckpoint(file).parts.has('vae');
  } catch {
    // reported when the set opens
  }
  vaeVerdicts.set(file, { stamp, hasVae });
  return hasVae;
}
