/**
 * How `serve` gets its engine. The SDXL pipeline (issue 4) plugs in here; until a build has it,
 * the daemon runs with an engine that states plainly why it cannot generate.
 */
import type { ModelStatus } from '../weights/model-catalog';
import type { GenerationEngine } from './engine';
import { UnavailableEngine } from './unavailable-engine';

export interface EngineContext {
  /** The default model set as found in the hub cache. */
  readonly models: readonly ModelStatus[];
  readonly cacheDir: string;
}

export type EngineFactory = (context: EngineContext) => GenerationEngine;

/** The onnxruntime CPU provider ships in every onnxruntime-node build; GPU providers come with the pipeline. */
const BASE_PROVIDERS = { provider: 'cpu', providers: ['cpu'] } as const;

export const createEngine: EngineFactory = ({ models }) => {
  const missing = models.filter((m) => !m.present);
  if (missing.length > 0) {
    return new UnavailableEngine({
      ...BASE_PROVIDERS,
      modelsMissing: true,
      reason: `models missing: ${missing.map((m) => m.spec.id).join(', ')}; download them with \`stylestudio models pull\` or the panel's Download button`,
    });
  }
  return new UnavailableEngine({
    ...BASE_PROVIDERS,
    reason: 'this build of the companion has no generation pipeline yet; pairing, status and model downloads work',
  });
};
