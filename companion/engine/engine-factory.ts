/**
 * How `serve` gets its engine: the ONNX StyleStudio pipeline on the default model set from the hub cache
 * (SDXL base, the fp16-fix VAE, CSGO csgo_4_32, the ViT-bigG image encoder), on the first GPU provider that
 * really runs a test session here (CUDA, DirectML), else the CPU. With models missing, an engine that says so.
 */
import type { ModelStatus } from '../weights/model-catalog';
import type { ExecutionProvider } from '../onnx/lowering';
import type { GenerationEngine } from './engine';
import { OnnxGenerationEngine } from './onnx-engine';
import { UnavailableEngine } from './unavailable-engine';
import { isEngineError } from '../runtime/errors';
import { defaultSetPaths, neededDefaultModels, type ModelPaths, resolveVae } from '../runtime/model-paths';
import type { ModelSource } from '../weights/model-source';

export interface EngineContext {
  /** The default model set as found in the hub cache. */
  readonly models: readonly ModelStatus[];
  readonly cacheDir: string;
  /** `serve --provider`: 'auto' (default) = the first GPU provider that really runs a session, else the CPU. */
  readonly provider?: ExecutionProvider | 'auto';
  /** `serve --memory-budget` in bytes (default: memory.ts defaultBudgetBytes). */
  readonly memoryBudget?: number;
  /** `serve --checkpoint`: a single-file checkpoint replacing the default set's SDXL base and VAE. */
  readonly model?: ModelSource;
}

export type EngineFactory = (context: EngineContext) => GenerationEngine;

/** The onnxruntime CPU provider ships in every onnxruntime-node build; GPU providers come with the pipeline. */
const BASE_PROVIDERS = { provider: 'cpu', providers: ['cpu'] } as const;

export const createEngine: EngineFactory = ({ models, cacheDir, provider, memoryBudget, model }) => {
  const missing = neededDefaultModels(models, model).filter((m) => !m.present);
  if (missing.length > 0) {
    return new UnavailableEngine({
      ...BASE_PROVIDERS,
      modelsMissing: true,
      reason: `models missing: ${missing.map((m) => m.spec.id).join(', ')}; download them with \`stylestudio models pull\` or the panel's Download button`,
    });
  }
  let paths: ModelPaths | null = defaultSetPaths(models, model);
  if (paths === null) {
    return new UnavailableEngine({ ...BASE_PROVIDERS, modelsMissing: true, reason: 'the default model set is incomplete in the cache' });
  }
  if (model !== undefined) {
    // A checkpoint without first_stage_model.* borrows the fp16-fix VAE from the hub cache, as `generate` does.
    try {
      const vae = resolveVae(paths, cacheDir);
      if (vae.note !== null) process.stderr.write(`stylestudio: ${vae.note}\n`);
      paths = vae.paths;
    } catch (e) {
      // anything else (an unreadable checkpoint) is reported by the engine's own open, as for the default set
      if (isEngineError(e, 'MODEL_FILES_MISSING')) return new UnavailableEngine({ ...BASE_PROVIDERS, modelsMissing: true, reason: e.message });
    }
  }
  return OnnxGenerationEngine.start({
    paths,
    provider: provider ?? 'auto',
    ...(memoryBudget !== undefined ? { memoryBudget } : {}),
  });
};
