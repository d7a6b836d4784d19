/**
 * Which SDXL model a command runs, from its options: `--model DIR` (a diffusers folder) or `--checkpoint FILE|NAME`
 * (a single-file checkpoint, by path or by name under the model roots) with `--model-config DIR|sdxl-base`.
 *
 *   resolveModelSource(options, context): ModelSource   { model, modelConfig? }, the fields of runtime's ModelPaths
 *   resolveStyleFiles(options, rootsEnv?)                 { adapter?, imageEncoder? }: names under the roots resolved
 *
 * A checkpoint's tokenizers come from the config folder when it has them, else from the hub cache (the sdxl-base or
 * sdxl-tokenizers download); when neither has them the error says how to get them, before anything loads.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SDXL_TOKENIZERS } from './default-models';
import { ModelSourceError } from './errors';
import { modelStatus } from './model-catalog';
import { findModel, type FoundKind, modelRoots, scanModelRoot } from './model-roots';
import { builtinConfigDir, BUILTIN_CONFIGS, isBuiltinConfig, type SingleFileModelOptions, TOKENIZER_HELP } from './single-file';

export interface ModelSourceOptions {
  /** --model: an SDXL diffusers folder. */
  readonly model?: string | undefined;
  /** --checkpoint: a single-file checkpoint, a path or a name under the model roots. */
  readonly checkpoint?: string | undefined;
  /** --model-config: a diffusers folder, or a built-in config set (default 'sdxl-base'). */
  readonly modelConfig?: string | undefined;
  /** --model-root (repeatable). */
  readonly modelRoot?: readonly string[] | undefined;
}

export interface ModelSourceContext {
  /** The hub cache, where downloaded tokenizers are. */
  readonly cacheDir: string;
  /** STYLESTUDIO_MODEL_ROOTS (default: the process environment). */
  readonly rootsEnv?: string | undefined;
}

/** The model part of runtime's ModelPaths (resolveStyleFiles gives the adapter and image encoder part). */
export interface ModelSource {
  readonly model: string;
  readonly modelConfig?: SingleFileModelOptions;
}

const TOKENIZER_FOLDERS = ['tokenizer', 'tokenizer_2'];

function hasTokenizers(dir: string): boolean {
  return TOKENIZER_FOLDERS.every((t) => ['vocab.json', 'merges.txt'].every((f) => fs.existsSync(path.join(dir, t, f))));
}

/**
 * Undefined when neither --checkpoint nor --model is given (the caller decides: `generate` requires one, `serve` runs
 * the default set).
 */
export function resolveModelSource(o: ModelSourceOptions, context: ModelSourceContext): ModelSource | undefined {
  if (o.checkpoint === undefined) {
    if (o.modelConfig !== undefined) throw new ModelSourceError('MODEL_CONFIG_INVALID', '--model-config describes a single-file checkpoint: it needs --checkpoint');
    return o.model === undefined ? undefined : { model: o.model };
  }
  if (o.model !== undefined) throw new ModelSourceError('MODEL_CONFIG_INVALID', 'give --model DIR (a diffusers folder) or --checkpoint FILE, not both');
  if (isDirectory(o.checkpoint)) {
    throw new ModelSourceError('MODEL_CONFIG_INVALID', `--checkpoint ${o.checkpoint} is a folder: a diffusers folder is given with --model DIR`);
  }
  const file = locate('checkpoint', o.checkpoint, o.modelRoot, context.rootsEnv);
  return { model: path.resolve(file), modelConfig: configSource(o.modelConfig ?? 'sdxl-base', context.cacheDir) };
}

/** `given` when it exists, else the file of `kind` it names under the model roots (scanned only then). */
function locate(kind: FoundKind, given: string, modelRoot: readonly string[] | undefined, rootsEnv: string | undefined): string {
  if (fs.existsSync(given)) return given;
  const scans = modelRoots(modelRoot ?? [], rootsEnv ?? process.env.STYLESTUDIO_MODEL_ROOTS).map(scanModelRoot);
  return findModel(scans, kind, given).file;
}

export interface StyleFileOptions {
  /** --adapter: a file, or an IP-Adapter's name under the model roots. */
  readonly adapter?: string | undefined;
  /** --image-encoder: a folder or file, or a clip_vision file's name under the model roots. */
  readonly imageEncoder?: string | undefined;
  readonly modelRoot?: readonly string[] | undefined;
}

/** --adapter and --image-encoder with names resolved under the model roots (paths that exist are kept as given). */
export function resolveStyleFiles(o: StyleFileOptions, rootsEnv?: string): { adapter?: string; imageEncoder?: string } {
  return {
    ...(o.adapter !== undefined ? { adapter: locate('ip-adapter', o.adapter, o.modelRoot, rootsEnv) } : {}),
    ...(o.imageEncoder !== undefined ? { imageEncoder: locate('clip-vision', o.imageEncoder, o.modelRoot, rootsEnv) } : {}),
  };
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function configSource(given: string, cacheDir: string): SingleFileModelOptions {
  let configDir: string;
  if (isBuiltinConfig(given)) {
    configDir = builtinConfigDir(given);
  } else {
    if (!fs.existsSync(path.join(given, 'model_index.json'))) {
      throw new ModelSourceError('MODEL_CONFIG_INVALID',
        `--model-config ${given}: neither a diffusers folder (no model_index.json) nor a built-in config set (${BUILTIN_CONFIGS.join(', ')})`);
    }
    configDir = path.resolve(given);
  }
  if (hasTokenizers(configDir)) return { configDir };
  const downloaded = modelStatus(cacheDir, SDXL_TOKENIZERS);
  if (downloaded.snapshotDir !== undefined && hasTokenizers(downloaded.snapshotDir)) return { configDir, tokenizerDir: downloaded.snapshotDir };
  throw new ModelSourceError('TOKENIZERS_MISSING', `no tokenizer/ and tokenizer_2/ in ${configDir} nor in the hub cache ${cacheDir}: ${TOKENIZER_HELP}`);
}
