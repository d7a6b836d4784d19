/**
 * Which weights and which provider `eval` and `sweep` use: explicit folders, or the default set as the hub cache holds
 * it (runtime/model-paths.ts defaultSetPaths: SDXL base, the fp16-fix VAE, CSGO, the ViT-bigG image encoder); a GPU
 * provider only once its self-check passed (onnx/self-check.ts), as `generate` does.
 */
import * as fs from 'node:fs';
import { loweringFor, type ExecutionProvider, EXECUTION_PROVIDERS, type Lowering } from '../onnx/lowering';
import { chooseVerified } from '../onnx/self-check';
import type { SessionOptions } from '../onnx/session';
import { defaultSetPaths, type ModelPaths } from '../runtime/model-paths';
import { modelsCacheDir } from '../weights/hub-layout';
import { modelStatuses } from '../weights/model-catalog';
import { CLIP_PREPROCESSINGS, type ClipPreprocessing } from './clip-towers';
import { EvalError } from './errors';

/** The flags both commands share, as commander hands them over. */
export interface ModelFlags {
  model?: string;
  adapter?: string;
  imageEncoder?: string;
  vae?: string;
  models?: string;
  provider?: string;
  fp16?: boolean;
  preprocess?: string;
}

export function requireExisting(flag: string, file: string, kind: 'file' | 'dir'): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new EvalError('BAD_ARGUMENT', `${flag} ${file}: no such ${kind === 'dir' ? 'directory' : 'file'}`);
  }
  if (kind === 'dir' ? !st.isDirectory() : !st.isFile()) throw new EvalError('BAD_ARGUMENT', `${flag} ${file}: not a ${kind === 'dir' ? 'directory' : 'file'}`);
  return file;
}

/**
 * The model folders: every explicit flag as given (each checked to exist); without --model, the default set from
 * the hub cache (`--models DIR` or the environment's), whose absence is an error naming both fixes.
 */
export function resolveModelPaths(flags: ModelFlags): ModelPaths {
  if (flags.model !== undefined) {
    return {
      model: requireExisting('--model', flags.model, 'dir'),
      ...(flags.adapter !== undefined ? { adapter: requireExisting('--adapter', flags.adapter, 'file') } : {}),
      ...(flags.imageEncoder !== undefined ? { imageEncoder: requireExisting('--image-encoder', flags.imageEncoder, 'dir') } : {}),
      ...(flags.vae !== undefined ? { vae: requireExisting('--vae', flags.vae, 'dir') } : {}),
    };
  }
  for (const flag of ['adapter', 'imageEncoder', 'vae'] as const) {
    if (flags[flag] !== undefined) throw new EvalError('BAD_ARGUMENT', `--${flag === 'imageEncoder' ? 'image-encoder' : flag} needs --model (without it the whole default set is used)`);
  }
  const cache = modelsCacheDir(flags.models);
  const paths = defaultSetPaths(modelStatuses(cache));
  if (paths === null) {
    throw new EvalError('BAD_ARGUMENT', `the default model set is not complete in ${cache}: run \`stylestudio models pull\`, or give --model DIR (and --image-encoder DIR)`);
  }
  return paths;
}

export interface ComputeChoice {
  readonly provider: ExecutionProvider;
  readonly lowering: Lowering;
  readonly session: SessionOptions;
}

/**
 * fp32 unless --fp16 (scores are compared across runs, so they default to the precision the goldens check); a GPU
 * provider whose self-check fails is an error, not a silent CPU run.
 */
export async function chooseCompute(flags: ModelFlags): Promise<ComputeChoice> {
  const asked = (flags.provider ?? 'cpu') as ExecutionProvider;
  if (!EXECUTION_PROVIDERS.includes(asked)) {
    throw new EvalError('BAD_ARGUMENT', `--provider must be one of ${EXECUTION_PROVIDERS.join(', ')}, got ${JSON.stringify(flags.provider)}`);
  }
  const verified = await chooseVerified(asked, loweringFor(asked, flags.fp16 === true ? 'fp16' : 'fp32'));
  if (verified.message !== undefined) throw new EvalError('BAD_ARGUMENT', `--provider ${asked}: ${verified.message.replace(/; running on the CPU instead$/, '')}`);
  return { provider: verified.provider, lowering: verified.lowering, session: { provider: verified.provider, logLevel: 'fatal' } };
}

/** `--preprocess`: whose CLIP image preprocessing the scores follow (default transformers'). */
export function parsePreprocess(text: string | undefined): ClipPreprocessing {
  if (text === undefined) return 'transformers';
  if (!(CLIP_PREPROCESSINGS as readonly string[]).includes(text)) {
    throw new EvalError('BAD_ARGUMENT', `--preprocess must be one of ${CLIP_PREPROCESSINGS.join(', ')}, got ${JSON.stringify(text)}`);
  }
  return text as ClipPreprocessing;
}
