/**
 * The daemon's GenerationEngine (engine.ts) on the ONNX pipeline. One ModelSet, opened once and kept: its sessions
 * live in worker threads in one resident cache under the memory budget, so the UNet and the VAE decoder stay warm
 * between jobs when they fit, and conditioning runs once per job for all its variations. A job is admitted or
 * refused at submit (admit()) from its memory plan, before it queues. On the caller's thread run only latent-sized
 * arithmetic (CFG, scheduler steps, previews); the style image's preprocessing runs in its own worker thread.
 */
import { listedProviders } from '../onnx/providers';
import { chooseProvider } from '../onnx/self-check';
import type { ExecutionProvider } from '../onnx/lowering';
import { latentPreview } from '../image/vae-image';
import { EngineError, isEngineError } from '../runtime/errors';
import {
  type EngineStatus, type GeneratedImage, type GenerationEngine, type GenerationHooks,
  type GenerationRequest, type RgbaImage, type StepEvent,
} from './engine';
import { ModelSet, type ModelPaths } from '../runtime/model-set';
import type { NetworkKind } from '../runtime/memory';
import { fitInitImageInWorker, prepareStylePixelsInWorker, reduceStyleImagesInWorker } from '../pipeline/style-prep';
import { type PipelineRequest, StyleStudioPipeline } from '../pipeline/stylestudio-pipeline';
import { denoiseSteps, SPEC_DEFAULTS } from '../../protocol';

export interface OnnxEngineOptions {
  readonly paths: ModelPaths;
  /** Bytes the engine may keep resident (default: memory.ts defaultBudgetBytes for the provider). */
  readonly memoryBudget?: number;
  /** 'auto': CUDA, then DirectML, where a test session really runs on them; else the CPU. Default 'cpu'. */
  readonly provider?: ExecutionProvider | 'auto';
  readonly fp16?: boolean;
  readonly intraOpThreads?: number;
  /** Send a preview every this many steps (default: about ten per variation). */
  readonly previewEvery?: number;
}

const NETWORK_NAMES: Readonly<Record<NetworkKind, string>> = {
  'text-encoders': 'text encoders', 'image-encoder': 'image encoder', 'vae-encoder': 'VAE encoder', unet: 'UNet', 'vae-decoder': 'VAE decoder',
};

/** The daemon's request as the pipeline's: the same spec, every variation's seed, conditioned once. */
export function pipelineRequest(r: GenerationRequest): PipelineRequest {
  const { seeds, ...spec } = r;
  return { ...spec, seed: seeds[0] ?? 0, seeds, variations: seeds.length };
}

/** Nearest-neighbour shrink so the longest side is at most `side` (previews only). */
function fitPreview(img: { width: number; height: number; data: Uint8Array }, side: number): RgbaImage {
  const k = Math.max(1, Math.ceil(Math.max(img.width, img.height) / Math.max(1, side)));
  if (k === 1) return { width: img.width, height: img.height, data: img.data };
  const w = Math.max(1, Math.floor(img.width / k));
  const h = Math.max(1, Math.floor(img.height / k));
  const out = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) out.set(img.data.subarray(((y * k) * img.width + x * k) * 4, ((y * k) * img.width + x * k) * 4 + 4), (y * w + x) * 4);
  }
  return { width: w, height: h, data: out };
}

/** Only a provider whose self-check passed (onnx/self-check.ts chooseProvider), else the CPU with one message why. */
async function resolveProvider(p: ExecutionProvider | 'auto', fp16?: boolean): Promise<ExecutionProvider> {
  const choice = await chooseProvider(p, fp16 === true ? 'fp16' : undefined);
  if (choice.message) process.stderr.write(`stylestudio: ${choice.message}\n`);
  return choice.provider;
}

export class OnnxGenerationEngine implements GenerationEngine {
  private busy = false;
  private closed = false;
  private models: ModelSet | null = null;
  private notReady: { reason: string; modelsMissing: boolean } | null = { reason: 'loading the models', modelsMissing: false };
  private readonly opening: Promise<void>;
  private provider: ExecutionProvider = 'cpu';
  /** Set while a job loads a network: what, for status() and progress. */
  private loading: string | null = null;

  private constructor(private readonly options: OnnxEngineOptions) {
    this.opening = resolveProvider(options.provider ?? 'cpu', options.fp16).then((provider) => {
      this.provider = provider;
      return ModelSet.open(options.paths, {
        provider,
        ...(options.fp16 !== undefined ? { fp16: options.fp16 } : {}),
        ...(options.intraOpThreads !== undefined ? { intraOpThreads: options.intraOpThreads } : {}),
        ...(options.memoryBudget !== undefined ? { memoryBudget: options.memoryBudget } : {}),
      });
    }).then((models) => {
      this.models = models;
      this.notReady = null;
    }, (e: unknown) => {
      // absent or partial files: a download fixes it (the panel offers one)
      this.notReady = { reason: (e as Error).message, modelsMissing: isEngineError(e, 'MODEL_FILES_MISSING') };
    });
  }

  /**
   * Starts opening the model set and returns at once (the daemon's engine factory is synchronous); status() says
   * "loading" until the folders are read. Missing or broken model files do not throw: the engine reports not
   * ready (modelsMissing for absent files) so the daemon still starts and tells the panel what to do.
   */
  static start(options: OnnxEngineOptions): OnnxGenerationEngine {
    return new OnnxGenerationEngine(options);
  }

  /** start() and wait until the model set is open (or failed to open). */
  static async open(options: OnnxEngineOptions): Promise<OnnxGenerationEngine> {
    const e = new OnnxGenerationEngine(options);
    await e.opening;
    return e;
  }

  status(): EngineStatus {
    let providers: string[];
    try {
      providers = listedProviders();
    } catch {
      providers = ['cpu'];
    }
    const provider = this.provider;
    if (this.closed) return { ready: false, reason: 'engine closed', provider, providers };
    if (this.notReady) {
      return {
        ready: false, reason: this.notReady.reason, modelsMissing: this.notReady.modelsMissing, provider, providers,
        state: this.notReady.modelsMissing ? 'missing' : 'present',
      };
    }
    const m = this.models!;
    const warm = m.cache.list().some((e) => e.kind === 'unet');
    return {
      ready: true, provider, providers,
      state: this.loading !== null ? 'warming' : warm ? 'warm' : 'present',
      ...(this.loading !== null ? { reason: this.loading } : {}),
      memory: { budgetBytes: m.memoryBudget, residentBytes: m.cache.accountedBytes, resident: m.cache.list().map((e) => e.kind) },
    };
  }

  /**
   * Refuses at submit what cannot run: bad sizes, style layers the adapter lacks, a job bigger than the memory
   * budget (EngineError with the code and the figures). Cheap: no session is touched.
   */
  admit(request: GenerationRequest): void {
    if (this.models === null) return; // status() already says why jobs cannot run
    new StyleStudioPipeline(this.models).preflight(pipelineRequest(request));
  }

  /**
   * What a queued job keeps of its images: every style reference and SCFG negative (user images, or a drop preset made
   * from each reference) as their CLIP crops, styleResize then 'none'; the init image fitted to the output size
   * (init-image.ts).
   */
  async reduceImages(request: GenerationRequest): Promise<GenerationRequest> {
    let reduced = request;
    if (request.init !== undefined) reduced = { ...reduced, init: await fitInitImageInWorker(request.init, request.width, request.height) };
    if (request.mask !== undefined) reduced = { ...reduced, mask: await fitInitImageInWorker(request.mask, request.width, request.height) };
    const size = this.models?.styleImageSize() ?? null;
    if (request.style === undefined || size === null) return reduced;
    const { drop, negativeStyle, extraStyles, extraNegativeStyles, ...rest } = reduced;
    const references = [request.style, ...(extraStyles ?? []).map((e) => e.image)];
    const negatives = negativeStyle === undefined ? [] : [negativeStyle, ...(extraNegativeStyles ?? [])];
    const crops: RgbaImage[] = [];
    const negativeCrops: RgbaImage[] = [];
    for (let i = 0; i < Math.max(references.length, negatives.length); i++) {
      const reference = references[i];
      if (reference === undefined) {
        negativeCrops.push((await reduceStyleImagesInWorker(negatives[i]!, null, size, request.styleResize)).style);
        continue;
      }
      const r = await reduceStyleImagesInWorker(reference, negatives[i] ?? drop ?? null, size, request.styleResize);
      crops.push(r.style);
      if (r.negative !== null) negativeCrops.push(r.negative);
    }
    return {
      ...rest, style: crops[0]!, styleResize: 'none',
      ...(extraStyles !== undefined ? { extraStyles: extraStyles.map((e, i) => ({ image: crops[i + 1]!, weight: e.weight })) } : {}),
      // a drop preset becomes the negatives it makes, one per reference (what the pipeline derives from the full images)
      ...(negativeCrops.length > 0 ? { negativeStyle: negativeCrops[0]! } : {}),
      ...(negativeCrops.length > 1 ? { extraNegativeStyles: negativeCrops.slice(1) } : {}),
    };
  }

  async *generate(request: GenerationRequest, hooks: GenerationHooks): AsyncIterable<GeneratedImage> {
    if (this.closed) throw new Error('the engine was closed');
    await this.opening;
    if (this.models === null) throw new EngineError('MODEL_FILES_MISSING', this.notReady?.reason ?? 'models are not loaded');
    if (this.busy) throw new Error('the engine runs one request at a time');
    this.busy = true;
    try {
      const pipeline = new StyleStudioPipeline(this.models);
      // img2img runs only the last int(steps · denoise) steps of the schedule
      const steps = request.init !== undefined ? denoiseSteps(request.steps, request.denoise ?? SPEC_DEFAULTS.denoise) : request.steps;
      const total = steps * request.seeds.length;
      const every = this.options.previewEvery ?? Math.max(1, Math.ceil(steps / 10));
      let done = 0;
      const events = pipeline.run(pipelineRequest(request), { signal: hooks.signal, prepareStyle: prepareStylePixelsInWorker });
      for (;;) {
        const n = await events.next();
        if (n.done === true) break;
        const e = n.value;
        if (e.kind === 'phase') {
          this.loading = e.loading ? `loading the ${NETWORK_NAMES[e.network]}` : null;
          if (this.loading !== null) hooks.onStage?.(this.loading);
          continue;
        }
        this.loading = null;
        if (e.kind === 'step') {
          const p = e.progress;
          done++;
          const event: StepEvent = { variation: p.variation, step: done, total };
          if (p.step % every === 0 || p.step === p.steps) {
            const [, c, h, w] = p.latents.shape as [number, number, number, number];
            const preview = fitPreview(latentPreview({ shape: [1, c, h, w], data: p.latents.data }), hooks.previewSide);
            hooks.onStep({ ...event, preview });
          } else {
            hooks.onStep(event);
          }
          continue;
        }
        const v = e.variation;
        const img = v.image!;
        yield { index: v.index, seed: v.seed, image: img };
      }
    } finally {
      this.loading = null;
      this.busy = false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.opening;
    await this.models?.close();
  }
}
