import type { ResolvedSpec } from '../../protocol';
import type { RgbaImage } from '../image/rgba';

/**
 * The one seam between the daemon and the StyleStudio pipeline. The server builds a
 * GenerationRequest from a protocol `generate`, and the engine turns it into images; it knows
 * nothing about sockets, and the server knows nothing about ONNX. An engine does its heavy work
 * off the main thread (onnxruntime's run() blocks its thread), so the server keeps answering.
 */

export type { RgbaImage };

/**
 * What the daemon hands the engine: the protocol's GenerationSpec with its uploads as pixels and one seed per
 * variation (random ones already drawn).
 */
export type GenerationRequest = Omit<ResolvedSpec<RgbaImage>, 'seed'> & {
  /** One seed per variation, in order. */
  readonly seeds: readonly number[];
};

export interface StepEvent {
  /** Variation being sampled, 0-based. */
  readonly variation: number;
  /** Denoising steps finished so far in this request, counted over all variations (1…total). */
  readonly step: number;
  /** steps × variations. */
  readonly total: number;
  /** A small preview (longest side ≤ hooks.previewSide), computed cheaply from the latents; only every few steps. */
  readonly preview?: RgbaImage;
}

export interface GenerationHooks {
  /** Called on the main thread after every denoising step. */
  onStep(event: StepEvent): void;
  /** Called when the job waits for a network to load, e.g. "loading the UNet" (the first job, or a new size). */
  onStage?(stage: string): void;
  /** When aborted, the engine stops at the next step boundary and ends the iteration (or throws GenerationAborted). */
  readonly signal: AbortSignal;
  /** Longest side a preview may have. */
  readonly previewSide: number;
}

export interface GeneratedImage {
  /** Variation index, 0-based, in seed order. */
  readonly index: number;
  readonly seed: number;
  readonly image: RgbaImage;
}

export interface EngineStatus {
  /** False while jobs cannot run (models missing, pipeline unavailable); `reason` says why and what to do. */
  readonly ready: boolean;
  readonly reason?: string;
  /** True when `ready` is false only because model files are missing (the server answers MODELS_MISSING). */
  readonly modelsMissing?: boolean;
  /** Execution provider jobs run on, e.g. "cpu", "cuda". */
  readonly provider: string;
  /** Providers that work on this machine. */
  readonly providers: readonly string[];
  /**
   * missing: model files absent; present: files found, nothing loaded yet; warming: a network is loading (reason
   * says which); warm: the UNet is resident and a job at its size starts at once.
   */
  readonly state?: 'missing' | 'present' | 'warming' | 'warm';
  /** The memory budget and what is resident now. */
  readonly memory?: { readonly budgetBytes: number; readonly residentBytes: number; readonly resident: readonly string[] };
}

export interface GenerationEngine {
  status(): EngineStatus;
  /**
   * Runs one request: yields one image per variation as each finishes. Throws for engine failures
   * (the server reports ENGINE_FAILED and keeps serving). One request at a time: the server never
   * calls generate() again before the previous iteration has ended.
   */
  generate(request: GenerationRequest, hooks: GenerationHooks): AsyncIterable<GeneratedImage>;
  /**
   * Refuses, at submit and without loading anything, a request that cannot run (bad size, unsupported style
   * layers, more memory than the budget): throws an error with a `code` (runtime/errors.ts). Optional.
   */
  admit?(request: GenerationRequest): void;
  /**
   * Cuts the request's reference images down to what the encoders read, off the main thread, with identical results:
   * the daemon calls it as a job queues, so a waiting job holds ~200 KB per image instead of the upload. Optional.
   */
  reduceImages?(request: GenerationRequest): Promise<GenerationRequest>;
  /** Frees sessions and stops workers; the engine is unusable afterwards. */
  close(): Promise<void>;
}

export { GenerationAborted } from '../runtime/errors';
