/**
 * A loaded model set: an SDXL diffusers folder, optionally a style adapter file and a CLIP image encoder folder,
 * turned into built graphs and live worker-thread sessions. Sessions are created on first use and kept: text
 * encoders and the image side once, the UNet per (latent size, batch rows, style layers, teacher sharing) and the
 * VAE decoder per latent size, all under the set's one lowering. A request never re-creates a session it already
 * has; the UNet cache holds a few entries (the teacher's 4-row graph plus the 2-row one) and releases the least
 * recently used beyond that, because each UNet session owns its own copy of the weights on the device.
 * The UNet, VAE and image-side graphs are built in a worker thread (graph-build.ts); the text encoders' graphs
 * (built by models/clip-text-sdxl.ts) are small enough to build here.
 */
import * as path from 'node:path';
import { type ExecutionProvider, type Lowering, loweringFor } from '../onnx/lowering';
import { Session, type SessionOptions } from '../onnx/session';
import { openStyleAdapter, type StyleAdapter } from '../models/adapter';
import { type ClipVisionConfig, parseClipVisionConfig } from '../models/clip-vision';
import { SdxlTextEncoders, type SdxlPromptIds } from '../models/clip-text-sdxl';
import { planAttention, type AttentionPlan, type StyleLayerSelection } from '../models/unet/attention-plan';
import { parseUNetConfig, type UNetConfig } from '../models/unet/config';
import { parseVaeConfig, type VaeConfig } from '../models/vae';
import { buildGraphInWorker } from './graph-build';
import { ClipTokenizer } from '../text/clip-tokenizer';
import { type DiffusersComponent, type DiffusersFolder, openComponentFolder, openDiffusersFolder, type WeightOptions } from '../weights/diffusers';
import type { ComputeType } from './tensors';

export interface ModelPaths {
  /** SDXL diffusers folder (model_index.json, unet/, vae/, text_encoder(_2)/, tokenizer(_2)/, scheduler/). */
  readonly model: string;
  /** Style adapter weights (h94 IP-Adapter / Plus, CSGO), .safetensors or .bin. */
  readonly adapter?: string;
  /** CLIPVisionModelWithProjection folder (config.json + model.safetensors). */
  readonly imageEncoder?: string;
  /** A VAE folder that replaces the model's vae/ (e.g. madebyollin/sdxl-vae-fp16-fix). */
  readonly vae?: string;
}

export interface ModelSetOptions {
  readonly provider?: ExecutionProvider;
  /** fp16 weights (the folder's fp16 variant files where present) and fp16 activations. */
  readonly fp16?: boolean;
  readonly deviceId?: number;
  readonly intraOpThreads?: number;
  /**
   * Epsilon added to the AdaIN variance (default the UNet builder's 1e-6, METHOD.md §1 [ours]); 0 reproduces the
   * official processors exactly (used by the parity tests).
   */
  readonly adainVarianceFloor?: number;
  /** UNet sessions kept alive at once (default 2: the teacher's 4-row graph and the 2-row graph). */
  readonly maxUNetSessions?: number;
  /** Overrides loweringFor(provider, fp16) (e.g. the GPU suite's fp32 WebGPU runs). */
  readonly lowering?: Lowering;
  /** Extra ORT session config entries for every session (e.g. onnx/session.ts DISABLE_CPU_FALLBACK). */
  readonly sessionConfig?: Readonly<Record<string, string>>;
}

export class ModelSetError extends Error {
  override readonly name = 'ModelSetError';
}

/** What a UNet session is keyed by. */
export interface UNetKey {
  readonly latentHeight: number;
  readonly latentWidth: number;
  readonly rows: number;
  /** Style layers; 'none' = plain SDXL (no adapter inputs at all). */
  readonly style: StyleLayerSelection;
  readonly teacherShare: boolean;
}

export interface UNetSession {
  readonly session: Session;
  readonly plan: AttentionPlan;
  readonly key: UNetKey;
}

export interface ImageSide {
  readonly adapter: StyleAdapter;
  readonly encoderConfig: ClipVisionConfig;
  readonly encoder: Session;
  /** Projection over [negative features ; style features] → [2, tokens, cross_dim]. */
  readonly projection: Session;
  readonly encoderType: ComputeType;
}

function keyString(k: UNetKey): string {
  return JSON.stringify([k.latentHeight, k.latentWidth, k.rows, k.style, k.teacherShare]);
}

export class ModelSet {
  readonly lowering: Lowering;
  readonly weightOptions: WeightOptions;
  readonly unetConfig: UNetConfig;
  readonly vaeConfig: VaeConfig;
  readonly forceZerosForEmptyPrompt: boolean;
  /** Notes for the user (e.g. an fp16 variant file missing). */
  readonly notes: string[] = [];
  /** Sessions created so far (text encoders count as one): shows that requests reuse them. */
  sessionsCreated = 0;
  private readonly sessionOptions: SessionOptions;
  private readonly unetComponent: DiffusersComponent;
  private readonly vaeComponent: DiffusersComponent;
  private textEncodersPromise: Promise<SdxlTextEncoders> | null = null;
  private imageSidePromise: Promise<ImageSide> | null = null;
  private readonly unets = new Map<string, Promise<UNetSession>>();
  private readonly vaes = new Map<string, Promise<Session>>();
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
    this.lowering = options.lowering ?? loweringFor(provider, options.fp16 === true ? 'fp16' : undefined);
    this.weightOptions = this.lowering.precision === 'fp16' ? { variant: 'fp16' } : {};
    this.sessionOptions = {
      provider,
      // ORT's own error lines would precede our one-line message; its errors still arrive as exceptions
      logLevel: 'fatal',
      ...(options.sessionConfig !== undefined ? { configEntries: options.sessionConfig } : {}),
      ...(options.deviceId !== undefined ? { deviceId: options.deviceId } : {}),
      ...(options.intraOpThreads !== undefined ? { intraOpThreads: options.intraOpThreads } : {}),
    };
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
    const folder = openDiffusersFolder(paths.model);
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
    return new ModelSet(paths, folder, tokenizer, tokenizer2, adapter, options);
  }

  get computeType(): ComputeType {
    return this.lowering.precision === 'fp16' ? 'float16' : 'float32';
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

  textEncoders(): Promise<SdxlTextEncoders> {
    this.checkOpen();
    this.textEncodersPromise ??= SdxlTextEncoders.create(this.folder, {
      session: this.sessionOptions, lowering: this.lowering, ...this.weightOptions,
    }).then((t) => {
      this.sessionsCreated++;
      this.notes.push(...t.notes);
      return t;
    });
    return this.textEncodersPromise;
  }

  /** Image encoder + projection sessions; throws when the set has no adapter. */
  imageSide(): Promise<ImageSide> {
    this.checkOpen();
    const adapter = this.adapter;
    const encoderDir = this.paths.imageEncoder;
    if (adapter === null || encoderDir === undefined) return Promise.reject(new ModelSetError('no style adapter loaded (give an adapter file and an image encoder folder)'));
    this.imageSidePromise ??= (async () => {
      const component = openComponentFolder(encoderDir, 'image_encoder');
      const encoderConfig = parseClipVisionConfig(component.config(), component.configFile);
      const featureDim = adapter.features === 'image_embeds' ? encoderConfig.projection_dim : encoderConfig.hidden_size;
      if (featureDim !== adapter.imageProjection.inputDim) {
        throw new ModelSetError(`${adapter.file}: the image projection reads ${adapter.imageProjection.inputDim}-wide ${adapter.features}, ` +
          `but ${component.configFile} gives ${featureDim} (wrong image encoder for this adapter?)`);
      }
      // The encoder runs in the set's precision; its weights are usually stored fp16 (h94), cast when fp32.
      const tokens = 1 + (encoderConfig.image_size / encoderConfig.patch_size) ** 2;
      const [encoderModel, projectionModel] = await Promise.all([
        buildGraphInWorker({ kind: 'image-encoder', lowering: this.lowering, configFile: component.configFile, weightFile: component.weights().file }),
        buildGraphInWorker({
          kind: 'image-projection', lowering: this.lowering, adapterFile: adapter.file, crossDim: this.unetConfig.cross_attention_dim,
          ...(adapter.features === 'image_embeds' ? {} : { sequence: tokens }),
        }),
      ]);
      const encoder = await Session.create(encoderModel, this.sessionOptions);
      let projection: Session;
      try {
        projection = await Session.create(projectionModel, this.sessionOptions);
      } catch (e) {
        await encoder.release();
        throw e;
      }
      this.sessionsCreated += 2;
      return { adapter, encoderConfig, encoder, projection, encoderType: this.computeType };
    })();
    return this.imageSidePromise;
  }

  /** The UNet session for `key`, built and created once, then reused. */
  unet(key: UNetKey): Promise<UNetSession> {
    this.checkOpen();
    const k = keyString(key);
    const hit = this.unets.get(k);
    if (hit) {
      this.unets.delete(k); // re-insert: most recently used last
      this.unets.set(k, hit);
      return hit;
    }
    const created = this.createUNet(key);
    this.unets.set(k, created);
    created.catch(() => this.unets.delete(k));
    void this.evictUNets();
    return created;
  }

  private async evictUNets(): Promise<void> {
    const max = this.options.maxUNetSessions ?? 2;
    while (this.unets.size > max) {
      const [oldest, p] = this.unets.entries().next().value as [string, Promise<UNetSession>];
      this.unets.delete(oldest);
      try {
        await (await p).session.release();
      } catch {
        // a failed creation has nothing to release
      }
    }
  }

  private async createUNet(key: UNetKey): Promise<UNetSession> {
    const c = this.unetConfig;
    const adapter = this.adapter;
    const styled = key.style.preset !== 'none';
    if (styled && adapter === null) throw new ModelSetError('style layers were asked for but no adapter is loaded');
    // the plan is cheap and checks the selection here, with a clear error, before a worker is started
    const plan = planAttention(c, { style: key.style, styleTokens: styled ? adapter!.tokens : 0, teacherShare: key.teacherShare });
    const te2 = this.folder.component('text_encoder_2');
    const pooled = te2.config()['projection_dim'];
    if (typeof pooled !== 'number') throw new ModelSetError(`${te2.configFile}: projection_dim is missing`);
    const weights = this.unetComponent.weights(this.weightOptions);
    if (weights.note !== null && !this.notes.includes(weights.note)) this.notes.push(weights.note);
    const model = await buildGraphInWorker({
      kind: 'unet', lowering: this.lowering, configFile: this.unetComponent.configFile, weightFile: weights.file,
      adapterFile: styled ? adapter!.file : null, style: key.style, teacherShare: key.teacherShare, rows: key.rows,
      latentHeight: key.latentHeight, latentWidth: key.latentWidth, pooledDim: pooled,
      ...(this.options.adainVarianceFloor !== undefined ? { adainVarianceFloor: this.options.adainVarianceFloor } : {}),
    });
    const session = await Session.create(model, this.sessionOptions);
    this.sessionsCreated++;
    return { session, plan, key };
  }

  /** VAE decoder for one latent of the given size. SDXL's original VAE overflows in fp16 (force_upcast): fp32 then. */
  vaeDecoder(latentHeight: number, latentWidth: number): Promise<{ session: Session; computeType: ComputeType }> {
    this.checkOpen();
    const upcast = this.vaeConfig['force_upcast'] === true;
    const lowering: Lowering = upcast ? { ...this.lowering, precision: 'fp32' } : this.lowering;
    const k = `${latentHeight}x${latentWidth}`;
    let p = this.vaes.get(k);
    if (!p) {
      p = (async () => {
        const weights = this.vaeComponent.weights(lowering.precision === 'fp16' ? { variant: 'fp16' } : {});
        const model = await buildGraphInWorker({
          kind: 'vae-decoder', lowering, configFile: this.vaeComponent.configFile, weightFile: weights.file, latentHeight, latentWidth,
        });
        const session = await Session.create(model, this.sessionOptions);
        this.sessionsCreated++;
        return session;
      })();
      this.vaes.set(k, p);
      p.catch(() => this.vaes.delete(k));
    }
    return p.then((session) => ({ session, computeType: lowering.precision === 'fp16' ? 'float16' : 'float32' }));
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
    const all: Promise<unknown>[] = [];
    const settle = <T>(p: Promise<T> | null, release: (v: T) => Promise<void>) => {
      if (p) all.push(p.then(release, () => undefined));
    };
    settle(this.textEncodersPromise, (t) => t.release());
    settle(this.imageSidePromise, async (s) => { await Promise.all([s.encoder.release(), s.projection.release()]); });
    for (const p of this.unets.values()) settle(p, (u) => u.session.release());
    for (const p of this.vaes.values()) settle(p, (s) => s.release());
    this.unets.clear();
    this.vaes.clear();
    await Promise.all(all);
  }
}
