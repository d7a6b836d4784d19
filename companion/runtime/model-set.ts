/**
 * A model set: an SDXL diffusers folder, optionally a style adapter file and a CLIP image encoder folder, whose
 * networks become worker-thread sessions on demand, all under the set's one lowering. Every session is an entry of
 * one bytes-accounted LRU (resident-cache.ts) under the memory budget: the pipeline leases what a phase needs and
 * lets go after it, so conditioning sessions are released when the UNet needs their memory and kept when it fits.
 * One UNet session per (latent size, style layers) serves every row count (its batch is symbolic, and a styled UNet
 * always has the teacher's gather index: the identity index is plain attention), so the teacher's 4 rows and the 2
 * rows after it share one copy of the weights.
 * The UNet, VAE and image-side graphs are built in a worker thread (graph-build.ts); the text encoders' graphs
 * (built by models/clip-text-sdxl.ts) are small enough to build here.
 */
import * as path from 'node:path';
import type { SerializedModel } from '../onnx/graph';
import { type ExecutionProvider, type Lowering, loweringFor } from '../onnx/lowering';
import { Session, type SessionOptions } from '../onnx/session';
import { formatGiB, type Lease, ResidentCache } from './resident-cache';
import { EngineError } from './errors';
import { defaultBudgetBytes, type JobFootprints, PROCESS_BASE_BYTES, sessionFootprint } from './memory';
import { WeightStore } from '../weights/weight-store';
import { checkWeightFiles, type ModelPaths, openModelFolder } from './model-paths';
import { openStyleAdapter, type StyleAdapter } from '../models/adapter';
import { type ClipVisionConfig, parseClipVisionConfig } from '../models/clip-vision';
import { SdxlTextEncoders, type SdxlPromptIds } from '../models/clip-text-sdxl';
import { planAttention, type AttentionPlan, type StyleLayerSelection } from '../models/unet/attention-plan';
import { parseUNetConfig, type UNetConfig } from '../models/unet/config';
import { parseVaeConfig, type VaeConfig } from '../models/vae';
import { buildGraphInWorker, type GraphSpec } from './graph-build';
import { ClipTokenizer } from '../text/clip-tokenizer';
import { type DiffusersComponent, type DiffusersFolder, openComponentFolder, type WeightOptions } from '../weights/diffusers';
import { openImageEncoder } from '../weights/image-encoder-source';
import { codedErrorClass } from '../../protocol';

/** The dtype of a network's float inputs and outputs. */
export type ComputeType = 'float32' | 'float16';

export type { ModelPaths } from './model-paths';


export interface ModelSetOptions {
  readonly provider?: ExecutionProvider;
  /** fp16 weights (the folder's fp16 variant files where present) and fp16 activations. */
  readonly fp16?: boolean;
  readonly deviceId?: number;
  readonly intraOpThreads?: number;
  /**
   * Floor on the AdaIN variance (default the UNet builder's ADAIN_VARIANCE_FLOOR, METHOD.md §1 [ours]); 0 reproduces
   * the official processors exactly.
   */
  readonly adainVarianceFloor?: number;
  /** Bytes the set may keep resident (default: memory.ts defaultBudgetBytes for the provider). */
  readonly memoryBudget?: number;
  /**
   * Most UNet rows per call (default 4). 2 runs the teacher's two pairs one after the other: half the activation
   * memory for the teacher steps, same numbers. The pipeline also chooses 2 by itself when 4 do not fit the budget.
   */
  readonly maxRowsPerRun?: 2 | 4;
  /** Overrides loweringFor(provider, fp16) (e.g. the GPU suite's fp32 WebGPU runs). */
  readonly lowering?: Lowering;
  /** Extra ORT session config entries for every session, full keys (e.g. onnx/session.ts DISABLE_CPU_FALLBACK). */
  readonly sessionConfig?: Readonly<Record<string, string>>;
}

export class ModelSetError extends codedErrorClass('ModelSetError', 'MODEL_SET') {}

/** What a UNet session is keyed by: every row count and teacher setting shares it. */
export interface UNetKey {
  readonly latentHeight: number;
  readonly latentWidth: number;
  /** Style layers; 'none' = plain SDXL (no adapter inputs at all). */
  readonly style: StyleLayerSelection;
  /** Style references whose tokens the graph takes side by side (absent = 1). */
  readonly styleSlots?: number;
}

export interface UNetSession {
  readonly session: Session;
  readonly plan: AttentionPlan;
  readonly key: UNetKey;
  /** The graph has the teacher_index input (every styled UNet). */
  readonly teacherShare: boolean;
}

export interface ImageSide {
  readonly adapter: StyleAdapter;
  readonly encoderConfig: ClipVisionConfig;
  readonly encoder: Session;
  /** Projection over [negative features ; style features] → [2, tokens, cross_dim]. */
  readonly projection: Session;
  readonly encoderType: ComputeType;
  release(): Promise<void>;
}

/** A VAE decoder or encoder session. */
export interface VaeDecoder {
  readonly session: Session;
  readonly computeType: ComputeType;
  release(): Promise<void>;
}

export type VaeEncoder = VaeDecoder;

/** The resident-cache key of a UNet session. */
export function unetCacheKey(key: UNetKey): string {
  return `unet:${JSON.stringify([key.latentHeight, key.latentWidth, key.style, key.styleSlots ?? 1])}`;
}

/** The resident-cache key of a VAE decoder. */
export function vaeCacheKey(latentHeight: number, latentWidth: number): string {
  return `vae-decoder:${latentHeight}x${latentWidth}`;
}

/** The resident-cache key of a VAE encoder (img2img). */
export function vaeEncoderCacheKey(latentHeight: number, latentWidth: number): string {
  return `vae-encoder:${latentHeight}x${latentWidth}`;
}

/** Sum of elements over tensors (optionally only keys passing `keep`). */
function elementsOf(store: WeightStore, keep: (key: string) => boolean = () => true): number {
  let n = 0;
  for (const k of store.keys()) {
    if (!keep(k)) continue;
    n += store.get(k)!.shape.reduce((a, b) => a * b, 1);
  }
  return n;
}

export class ModelSet {
  readonly lowering: Lowering;
  readonly provider: ExecutionProvider;
  readonly weightOptions: WeightOptions;
  readonly unetConfig: UNetConfig;
  readonly vaeConfig: VaeConfig;
  readonly forceZerosForEmptyPrompt: boolean;
  /** Notes for the user (e.g. an fp16 variant file missing). */
  readonly notes: string[] = [];
  /** Every resident session, under the memory budget. */
  readonly cache: ResidentCache;
  /** Bytes the whole engine may use: the process itself plus the cache. */
  readonly memoryBudget: number;
  /** ModelSetOptions.maxRowsPerRun, default 4. */
  readonly maxRowsPerRun: number;
  /** Every session creation: graph build and ORT session creation times (benchmarks read them). */
  readonly creations: { readonly network: string; readonly buildMs: number; readonly sessionMs: number }[] = [];
  private readonly sessionOptions: SessionOptions;
  private readonly unetComponent: DiffusersComponent;
  private readonly vaeComponent: DiffusersComponent;
  private readonly weightElements = new Map<string, number>();
  private closed = false;

  private constructor(
    readonly paths: ModelPaths,
    readonly folder: DiffusersFolder,
    readonly tokenizer: ClipTokenizer,
    readonly tokenizer2: ClipTokenizer,
    readonly adapter: StyleAdapter | null,
    private readonly options: ModelSetOptions,
  ) {
    const provider = options.provider ?? 'cpu';
    this.provider = provider;
    this.lowering = options.lowering ?? loweringFor(provider, options.fp16 === true ? 'fp16' : undefined);
    this.weightOptions = this.lowering.precision === 'fp16' ? { variant: 'fp16' } : {};
    this.sessionOptions = {
      provider,
      // ORT's own error lines would precede our one-line message; its errors still arrive as exceptions
      logLevel: 'fatal',
      ...(options.deviceId !== undefined ? { deviceId: options.deviceId } : {}),
      ...(options.intraOpThreads !== undefined ? { intraOpThreads: options.intraOpThreads } : {}),
      // Without the arena, activation buffers go back to the allocator after each run (and, with the allocator
      // settings of allocator.ts, to the OS): sessions are kept for weights, not for scratch memory.
      cpuMemArena: false,
      // MLAS prepacking re-lays every MatMul/Conv weight at creation: 35 of 50 s for the SDXL UNet on the CPU for
      // ~12 % per step (docs/BENCHMARKS.md). Creation is what a designer waits for after a size change or when the
      // budget made a network reload, and encoders run once per job: not worth it.
      configEntries: {
        ...(provider === 'cpu' ? { 'session.disable_prepacking': '1' } : {}),
        ...options.sessionConfig,
      },
    };
    this.memoryBudget = options.memoryBudget ?? defaultBudgetBytes(provider);
    this.maxRowsPerRun = options.maxRowsPerRun ?? 4;
    if (!(this.memoryBudget > PROCESS_BASE_BYTES)) {
      throw new EngineError('BAD_BUDGET', `a memory budget of ${formatGiB(this.memoryBudget)} leaves nothing for models beside the process itself (${formatGiB(PROCESS_BASE_BYTES)})`);
    }
    // the cache holds sessions; the process's own memory comes off the top
    this.cache = new ResidentCache(this.memoryBudget - PROCESS_BASE_BYTES);
    this.unetComponent = folder.component('unet');
    this.unetConfig = parseUNetConfig(this.unetComponent.config(), this.unetComponent.configFile);
    this.vaeComponent = paths.vae !== undefined ? openComponentFolder(paths.vae, 'vae') : folder.component('vae');
    this.vaeConfig = parseVaeConfig(this.vaeComponent.config(), this.vaeComponent.configFile);
    const flag = folder.modelIndex['force_zeros_for_empty_prompt'];
    this.forceZerosForEmptyPrompt = flag === undefined ? true : flag === true;
    if (this.unetConfig.addition_embed_type !== 'text_time') {
      throw new ModelSetError(`${this.unetComponent.configFile}: not an SDXL UNet (addition_embed_type is ${JSON.stringify(this.unetConfig.addition_embed_type)}, expected "text_time")`);
    }
  }

  /** Opens the folders and files (configs, tokenizers, adapter header); sessions are created on first use. */
  static async open(paths: ModelPaths, options: ModelSetOptions = {}): Promise<ModelSet> {
    checkWeightFiles(paths, options.fp16 === true ? { variant: 'fp16' } : {});
    const folder = openModelFolder(paths);
    const [tokenizer, tokenizer2] = await Promise.all([
      ClipTokenizer.fromFolder(folder.component('tokenizer').dir),
      ClipTokenizer.fromFolder(folder.component('tokenizer_2').dir),
    ]);
    if ((paths.adapter === undefined) !== (paths.imageEncoder === undefined)) {
      throw new ModelSetError('a style adapter needs both the adapter file and the image encoder folder');
    }
    let adapter: StyleAdapter | null = null;
    if (paths.adapter !== undefined) {
      const unet = folder.component('unet');
      const cross = parseUNetConfig(unet.config(), unet.configFile).cross_attention_dim;
      adapter = openStyleAdapter(path.resolve(paths.adapter), cross);
    }
    const set = new ModelSet(paths, folder, tokenizer, tokenizer2, adapter, options);
    if (adapter) set.notes.push(...adapter.notes);
    return set;
  }

  get computeType(): ComputeType {
    return this.lowering.precision === 'fp16' ? 'float16' : 'float32';
  }

  /** Sessions created so far: shows that requests reuse them. */
  get sessionsCreated(): number {
    return this.cache.created;
  }

  /** The adapter's default style layers (METHOD.md §0): CSGO all up_blocks, h94 InstantStyle's style block. */
  defaultStyleSelection(): StyleLayerSelection {
    if (this.adapter === null) return { preset: 'none' };
    return this.adapter.kind === 'csgo' ? { preset: 'csgo' } : { preset: 'instantstyle' };
  }

  /** Token ids for both encoders, padded/truncated to 77 exactly as encode_prompt calls the tokenizers. */
  tokenize(text: string): SdxlPromptIds {
    return {
      te1: Array.from(this.tokenizer.encodePadded(text, 77)),
      te2: Array.from(this.tokenizer2.encodePadded(text, 77)),
    };
  }

  /** The attention plan a style selection gives (checks the selection against the UNet, cheaply); `slots`: references. */
  planFor(style: StyleLayerSelection, slots = 1): AttentionPlan {
    const styled = style.preset !== 'none';
    if (styled && this.adapter === null) throw new ModelSetError('style layers were asked for but no adapter is loaded');
    return planAttention(this.unetConfig, { style, styleTokens: styled ? this.adapter!.tokens : 0, teacherShare: styled, styleSlots: slots });
  }

  /** Estimated resident bytes of each network for a job of this latent size (memory.ts); `img2img`: with the VAE encoder. */
  footprints(latentHeight: number, latentWidth: number, style: StyleLayerSelection, rows: number, img2img = false): JobFootprints {
    const base = { precision: this.lowering.precision, provider: this.provider };
    const styled = style.preset !== 'none';
    let unetElements = this.elements('unet', () => elementsOf(this.unetComponent.weights(this.weightOptions).open()));
    if (styled) {
      const cross = this.unetConfig.cross_attention_dim;
      unetElements += this.planFor(style).styleLayers.reduce((n, l) => n + 2 * l.channels * cross, 0);
    }
    const textElements = this.elements('text-encoders', () => ['text_encoder', 'text_encoder_2']
      .reduce((n, name) => n + elementsOf(this.folder.component(name).weights(this.weightOptions).open()), 0));
    const vaeElements = this.elements(`vae-decoder`, () => elementsOf(this.vaeComponent.weights(this.vaeWeightOptions()).open(),
      (k) => k.startsWith('decoder.') || k.startsWith('post_quant_conv.')));
    const vf = this.vaeScaleFactor;
    const vaeBase = { ...base, precision: this.vaeLowering().precision, outputPixels: latentHeight * vf * latentWidth * vf };
    const vaeEncoder = img2img
      ? sessionFootprint({
        ...vaeBase, network: 'vae-encoder',
        weightElements: this.elements('vae-encoder', () => elementsOf(this.vaeComponent.weights(this.vaeWeightOptions()).open(),
          (k) => k.startsWith('encoder.') || k.startsWith('quant_conv.'))),
      })
      : null;
    return {
      textEncoders: sessionFootprint({ ...base, network: 'text-encoders', weightElements: textElements }),
      imageEncoder: styled ? sessionFootprint({ ...base, network: 'image-encoder', weightElements: this.imageSideElements() }) : null,
      vaeEncoder,
      unet: sessionFootprint({ ...base, network: 'unet', weightElements: unetElements, latentPixels: latentHeight * latentWidth, rows }),
      vaeDecoder: sessionFootprint({ ...vaeBase, network: 'vae-decoder', weightElements: vaeElements }),
    };
  }

  private elements(key: string, count: () => number): number {
    let n = this.weightElements.get(key);
    if (n === undefined) {
      n = count();
      this.weightElements.set(key, n);
    }
    return n;
  }

  private imageSideElements(): number {
    const adapter = this.adapter;
    const dir = this.paths.imageEncoder;
    if (adapter === null || dir === undefined) return 0;
    return this.elements('image-encoder', () => {
      const encoder = elementsOf(openImageEncoder(dir).weights().open(), (k) => !k.startsWith('text_model.'));
      const root = `${adapter.imageProjection.scope.path}.`;
      return encoder + elementsOf(adapter.store, (k) => k.startsWith(root));
    });
  }

  /** Text encoders, leased from the resident cache (created on first use). */
  textEncoders(): Promise<Lease<SdxlTextEncoders>> {
    this.checkOpen();
    const bytes = this.footprints(8, 8, { preset: 'none' }, 2).textEncoders;
    return this.cache.lease('text-encoders', 'text-encoders', bytes, async () => {
      // Their small graphs are built on this thread (models/clip-text-sdxl.ts); the sessions come from the one recipe.
      const t = await SdxlTextEncoders.create(this.folder, {
        lowering: this.lowering, ...this.weightOptions, createSession: (network, model) => this.sessionFromModel(network.replace(/_/g, '-'), model, 0),
      });
      for (const n of t.notes) if (!this.notes.includes(n)) this.notes.push(n);
      return t;
    });
  }

  /** The image encoder's input side (its config's image_size), or null when the set has no style adapter. */
  styleImageSize(): number | null {
    const dir = this.paths.imageEncoder;
    if (this.adapter === null || dir === undefined) return null;
    const component = openComponentFolder(dir, 'image_encoder');
    return parseClipVisionConfig(component.config(), component.configFile).image_size;
  }

  /** Image encoder + projection sessions (one entry); throws when the set has no adapter. */
  imageSide(): Promise<Lease<ImageSide>> {
    this.checkOpen();
    const adapter = this.adapter;
    const encoderDir = this.paths.imageEncoder;
    if (adapter === null || encoderDir === undefined) return Promise.reject(new ModelSetError('no style adapter loaded (give an adapter file and an image encoder folder)'));
    const bytes = sessionFootprint({ network: 'image-encoder', weightElements: this.imageSideElements(), precision: this.lowering.precision, provider: this.provider });
    return this.cache.lease('image-side', 'image-encoder', bytes, async (): Promise<ImageSide> => {
      const component = openImageEncoder(encoderDir);
      const encoderConfig = parseClipVisionConfig(component.config(), component.configFile);
      const featureDim = adapter.features === 'image_embeds' ? encoderConfig.projection_dim : encoderConfig.hidden_size;
      if (featureDim !== adapter.imageProjection.inputDim) {
        throw new ModelSetError(`${adapter.file}: the image projection reads ${adapter.imageProjection.inputDim}-wide ${adapter.features}, ` +
          `but ${component.configFile} gives ${featureDim} (wrong image encoder for this adapter?)`);
      }
      // The encoder runs in the set's precision; its weights are usually stored fp16 (h94), cast when fp32.
      const tokens = 1 + (encoderConfig.image_size / encoderConfig.patch_size) ** 2;
      const encoder = await this.session('image-encoder',
        { kind: 'image-encoder', lowering: this.lowering, configFile: component.configFile, weights: component.weights().source });
      let projection: Session;
      try {
        projection = await this.session('image-projection', {
          kind: 'image-projection', lowering: this.lowering, adapterFile: adapter.file, crossDim: this.unetConfig.cross_attention_dim,
          ...(adapter.features === 'image_embeds' ? {} : { sequence: tokens }),
        });
      } catch (e) {
        await encoder.release();
        throw e;
      }
      return {
        adapter, encoderConfig, encoder, projection, encoderType: this.computeType,
        release: async () => { await Promise.all([encoder.release(), projection.release()]); },
      };
    });
  }

  /**
   * The UNet session for `key`, leased from the resident cache: one per latent size and style selection, serving
   * every row count (`bytesRows`: the most rows the job will run, for the memory estimate).
   */
  unet(key: UNetKey, bytesRows = 4): Promise<Lease<UNetSession>> {
    this.checkOpen();
    const styled = key.style.preset !== 'none';
    const plan = this.planFor(key.style, key.styleSlots);
    const bytes = this.footprints(key.latentHeight, key.latentWidth, key.style, bytesRows).unet;
    return this.cache.lease(unetCacheKey(key), 'unet', bytes, async () => {
      const te2 = this.folder.component('text_encoder_2');
      const pooled = te2.config()['projection_dim'];
      if (typeof pooled !== 'number') throw new ModelSetError(`${te2.configFile}: projection_dim is missing`);
      const weights = this.unetComponent.weights(this.weightOptions);
      if (weights.note !== null && !this.notes.includes(weights.note)) this.notes.push(weights.note);
      const session = await this.session('unet', {
        kind: 'unet', lowering: this.lowering, configFile: this.unetComponent.configFile, weights: weights.source,
        adapterFile: styled ? this.adapter!.file : null, style: key.style, styleSlots: key.styleSlots ?? 1, teacherShare: styled, rows: 'rows',
        latentHeight: key.latentHeight, latentWidth: key.latentWidth, pooledDim: pooled,
        ...(this.options.adainVarianceFloor !== undefined ? { adainVarianceFloor: this.options.adainVarianceFloor } : {}),
      });
      return { session, plan, key, teacherShare: styled, release: () => session.release() };
    });
  }

  private vaeLowering(): Lowering {
    // SDXL's original VAE overflows in fp16 (force_upcast): it runs in fp32 then.
    return this.vaeConfig['force_upcast'] === true ? { ...this.lowering, precision: 'fp32' } : this.lowering;
  }

  private vaeWeightOptions(): WeightOptions {
    return this.vaeLowering().precision === 'fp16' ? { variant: 'fp16' } : {};
  }

  /** VAE decoder for one latent of the given size, leased from the resident cache. */
  vaeDecoder(latentHeight: number, latentWidth: number): Promise<Lease<VaeDecoder>> {
    this.checkOpen();
    const lowering = this.vaeLowering();
    const bytes = this.footprints(latentHeight, latentWidth, { preset: 'none' }, 2).vaeDecoder;
    return this.cache.lease(vaeCacheKey(latentHeight, latentWidth), 'vae-decoder', bytes, async () => {
      const weights = this.vaeComponent.weights(this.vaeWeightOptions());
      const session = await this.session('vae-decoder', {
        kind: 'vae-decoder', lowering, configFile: this.vaeComponent.configFile, weights: weights.source, latentHeight, latentWidth,
      });
      return { session, computeType: lowering.precision === 'fp16' ? 'float16' : 'float32', release: () => session.release() };
    });
  }

  /** VAE encoder for an init image of the given latent size (img2img), leased from the resident cache. */
  vaeEncoder(latentHeight: number, latentWidth: number): Promise<Lease<VaeEncoder>> {
    this.checkOpen();
    const lowering = this.vaeLowering();
    const bytes = this.footprints(latentHeight, latentWidth, { preset: 'none' }, 2, true).vaeEncoder!;
    return this.cache.lease(vaeEncoderCacheKey(latentHeight, latentWidth), 'vae-encoder', bytes, async () => {
      const weights = this.vaeComponent.weights(this.vaeWeightOptions());
      const session = await this.session('vae-encoder', {
        kind: 'vae-encoder', lowering, configFile: this.vaeComponent.configFile, weights: weights.source, latentHeight, latentWidth,
      });
      return { session, computeType: lowering.precision === 'fp16' ? 'float16' : 'float32', release: () => session.release() };
    });
  }

  /**
   * The one recipe for a network's session: its graph built in a worker thread from the spec, then a session with
   * the set's options; both times recorded in `creations`.
   */
  private async session(network: string, spec: GraphSpec): Promise<Session> {
    const t0 = performance.now();
    const model = await buildGraphInWorker(spec);
    return this.sessionFromModel(network, model, performance.now() - t0);
  }

  /** A session with the set's options for a built graph (`buildMs`: what building it took), recorded in `creations`. */
  private async sessionFromModel(network: string, model: SerializedModel, buildMs: number): Promise<Session> {
    const t0 = performance.now();
    const session = await Session.create(model, this.sessionOptions);
    this.creations.push({ network, buildMs, sessionMs: performance.now() - t0 });
    return session;
  }

  /** Latent channels the UNet takes. */
  get latentChannels(): number {
    return this.unetConfig.in_channels;
  }

  /** Image sides must be multiples of this: the VAE factor times the UNet's downsampling. */
  get sizeMultiple(): number {
    return 2 ** (this.vaeConfig.block_out_channels.length - 1) * 2 ** (this.unetConfig.block_out_channels.length - 1);
  }

  get vaeScaleFactor(): number {
    return 2 ** (this.vaeConfig.block_out_channels.length - 1);
  }

  private checkOpen(): void {
    if (this.closed) throw new ModelSetError('the model set was closed');
  }

  /** Releases every session and stops the workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.cache.clear();
  }
}
