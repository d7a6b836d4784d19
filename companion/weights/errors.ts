/**
 * Errors of the weight readers. Every message names the file (and the key, where there is one) and the problem,
 * so a user holding a broken download can tell which file to fetch again.
 *
 *   WeightFileError(file, problem)   a file or folder is missing, unreadable or malformed
 *   WeightError(key, problem, file?) a tensor lookup failed (missing key, wrong shape, unread keys)
 *   ModelSourceError(code, message)  where a model comes from: single-file checkpoints, model roots, configs, tokenizers
 */
import { CodedError } from '../../protocol';

/**
 * A file (or folder) the weight readers were given cannot be used. `.file` is the path as given; `.realFile` the
 * file behind it when that differs (a hub-cache blob), also named in the message.
 */
export class WeightFileError extends CodedError<'BAD_WEIGHT_FILE'> {
  override readonly name = 'WeightFileError';
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly realFile?: string,
  ) {
    super('BAD_WEIGHT_FILE', `${file}${realFile === undefined ? '' : ` (→ ${realFile})`}: ${problem}`);
  }
}

/** A tensor lookup failed. `.key` is the full dotted checkpoint key; `.file` the file searched, when known. */
export class WeightError extends CodedError<'BAD_WEIGHTS'> {
  override readonly name = 'WeightError';
  constructor(
    readonly key: string,
    readonly problem: string,
    readonly file?: string,
  ) {
    super('BAD_WEIGHTS', `weight "${key}": ${problem}${file === undefined ? '' : ` (in ${file})`}`);
  }
}

/**
 * Where models come from (single-file checkpoints, model roots, config and tokenizer sources): a stable code for
 * callers to branch on, and a message that names the file and the fix.
 */
export const MODEL_SOURCE_ERROR_CODES = {
  /** The file is not a single-file SDXL checkpoint (an SD 1.x/2.x one, a LoRA, a diffusers component, …). */
  CHECKPOINT_NOT_SDXL: 'not a single-file SDXL checkpoint',
  /** Checkpoint tensors that no rule of the layout (for the given config) maps: wrong config, or an unknown variant. */
  CHECKPOINT_UNMAPPED_KEYS: 'checkpoint tensors outside the known layout',
  /** A tensor whose shape the layout cannot read (a packed q/k/v not divisible by 3, a projection that is not 2-D). */
  CHECKPOINT_BAD_TENSOR: 'checkpoint tensor of an unexpected shape',
  /** The checkpoint lacks a whole network (e.g. no VAE): the message says what replaces it. */
  CHECKPOINT_PART_MISSING: 'network missing from the checkpoint',
  /** `--model-config` names neither a diffusers folder nor a built-in config set. */
  MODEL_CONFIG_INVALID: 'invalid model config source',
  /** The tokenizer files a single-file checkpoint needs are nowhere to be found. */
  TOKENIZERS_MISSING: 'tokenizers missing',
  /** A model root (`--model-root`, STYLESTUDIO_MODEL_ROOTS) is not a readable folder. */
  MODEL_ROOT_INVALID: 'invalid model root',
  /** A file found under a model root cannot be used (unreadable, not safetensors, not what its folder says). */
  MODEL_FILE_UNUSABLE: 'unusable model file',
  /** A name asked for (`--checkpoint NAME`) matches no file, or several, under the model roots. */
  MODEL_NOT_FOUND: 'model not found',
} as const;

export type ModelSourceErrorCode = keyof typeof MODEL_SOURCE_ERROR_CODES;

export class ModelSourceError extends CodedError<ModelSourceErrorCode> {
  override readonly name = 'ModelSourceError';
}
