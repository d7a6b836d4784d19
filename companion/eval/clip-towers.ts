/**
 * The two towers of one CLIP, as the default set already holds them for OpenCLIP ViT-bigG-14:
 *   text   SDXL's text_encoder_2 (CLIPTextModelWithProjection): text_embeds = text_projection(pooled EOS state)
 *   image  the IP-Adapter image encoder (CLIPVisionModelWithProjection): image_embeds = visual_projection(pooled
 *          class token), plus the penultimate hidden states whose patch tokens the layout score reads (layout.ts)
 * Both graphs come from the network builders the pipeline uses (models/clip-text.ts, models/clip-vision.ts), so a
 * score is computed by the same code that conditions a generation. Images are preprocessed at the encoder's
 * image_size exactly as transformers' CLIPImageProcessor does (image/clip-preprocess.ts; the default), or as
 * open_clip's eval transform does (torchvision-preprocess.ts), so scores can match either library's.
 */
import * as path from 'node:path';
import { buildClipTextGraph, openClipText } from '../models/clip-text';
import { clipVision, parseClipVisionConfig, type ClipVisionConfig } from '../models/clip-vision';
import { Graph } from '../onnx/graph';
import { cast } from '../onnx/ops/basic';
import type { Lowering } from '../onnx/lowering';
import { Session, type SessionOptions } from '../onnx/session';
import { toFloat32 } from '../pipeline/tensors';
import { clipPreprocess } from '../image/clip-preprocess';
import type { RgbaImage } from '../image/rgba';
import { ClipTokenizer } from '../text/clip-tokenizer';
import { openComponentFolder, openDiffusersFolder } from '../weights/diffusers';
import { WeightStore } from '../weights/weight-store';
import { EvalError } from './errors';
import { torchvisionClipPixels } from './torchvision-preprocess';

export interface ClipTowerPaths {
  /** An SDXL diffusers folder: its text_encoder_2 and tokenizer_2 are the text tower. */
  readonly model: string;
  /** A CLIPVisionModelWithProjection folder (config.json + model.safetensors): the image tower. */
  readonly imageEncoder: string;
}

/** Whose image preprocessing the image tower gets (they differ by a crop offset and a float rounding). */
export type ClipPreprocessing = 'transformers' | 'open_clip';
export const CLIP_PREPROCESSINGS: readonly ClipPreprocessing[] = ['transformers', 'open_clip'];

export interface TowerOptions {
  readonly lowering: Lowering;
  readonly session: SessionOptions;
  /** Default 'transformers'. */
  readonly preprocess?: ClipPreprocessing;
}

/** What the image tower gives for one image. */
export interface ImageFeatures {
  /** image_embeds [projection_dim]: the vector CLIP-T and the style similarity compare. */
  readonly embeds: Float32Array;
  /** The penultimate layer's patch tokens (class token left out), row-major [count, width]. */
  readonly patchTokens: { readonly count: number; readonly width: number; readonly data: Float32Array };
}

/** Keys a CLIPModel-style checkpoint carries beside the vision tower (graph-build.ts ignores the same). */
const VISION_IGNORED = [/position_ids$/, /^text_model\./, /^text_projection\./, /logit_scale/];

export class ClipTowers {
  private constructor(
    private readonly tokenizer: ClipTokenizer,
    private readonly text: Session,
    private readonly vision: Session,
    private readonly visionConfig: ClipVisionConfig,
    private readonly sequenceLength: number,
    private readonly preprocess: ClipPreprocessing,
    /** Width of the shared embedding space. */
    readonly projectionDim: number,
  ) {}

  /** Builds both graphs and opens their sessions; refuses towers whose projections differ in width. */
  static async open(paths: ClipTowerPaths, options: TowerOptions): Promise<ClipTowers> {
    const folder = openDiffusersFolder(paths.model);
    const textFolder = openClipText(folder.component('text_encoder_2'));
    const textDim = textFolder.config.projection_dim;
    if (textDim === undefined) {
      throw new EvalError('TOWER_MISMATCH', `${path.join(folder.dir, 'text_encoder_2')}: config.json has no projection_dim (not a CLIPTextModelWithProjection)`);
    }
    const visionComponent = openComponentFolder(paths.imageEncoder, 'image_encoder');
    const visionConfig = parseClipVisionConfig(visionComponent.config(), visionComponent.configFile);
    if (visionConfig.projection_dim !== textDim) {
      throw new EvalError('TOWER_MISMATCH', `text_encoder_2 projects to ${textDim} dimensions but ${visionComponent.configFile} to ` +
        `${visionConfig.projection_dim}: they are not the two towers of one CLIP (SDXL's text_encoder_2 pairs with the ViT-bigG-14 image encoder)`);
    }
    const tokenizer = await ClipTokenizer.fromFolder(folder.component('tokenizer_2').dir);
    const sequenceLength = textFolder.config.max_position_embeddings;
    const textGraph = buildClipTextGraph(textFolder, { lowering: options.lowering, hiddenStates: [], final: true, projection: true });
    const visionStore = WeightStore.open(visionComponent.weights().file);
    const visionGraph = imageTowerGraph(visionStore, visionConfig, options.lowering);
    visionStore.assertAllRead(VISION_IGNORED);
    const text = await Session.create(textGraph.graph.serialize(), options.session);
    let vision: Session;
    try {
      vision = await Session.create(visionGraph.serialize(), options.session);
    } catch (e) {
      await text.release();
      throw e;
    }
    return new ClipTowers(tokenizer, text, vision, visionConfig, sequenceLength, options.preprocess ?? 'transformers', textDim);
  }

  /** text_embeds of a prompt, tokenized as SDXL's tokenizer_2 does (padded, truncated to the encoder's 77 tokens). */
  async embedText(prompt: string): Promise<Float32Array> {
    const ids = this.tokenizer.encodePadded(prompt, this.sequenceLength);
    const out = await this.text.run({
      input_ids: { dtype: 'int64', dims: [1, ids.length], data: BigInt64Array.from(ids, (i) => BigInt(i)) },
    });
    return toFloat32(out['text_embeds'], 'text_embeds');
  }

  /** The image tower on the chosen library's pixels (shortest side to image_size, bicubic, centre crop). */
  async embedImage(image: RgbaImage): Promise<ImageFeatures> {
    const c = this.visionConfig;
    const s = c.image_size;
    const pixels = this.preprocess === 'open_clip' ? torchvisionClipPixels(image, s) : clipPreprocess(image, { imageSize: s }).data;
    const out = await this.vision.run({ pixel_values: { dtype: 'float32', dims: [1, 3, s, s], data: pixels } });
    const hidden = toFloat32(out['penultimate_hidden_states'], 'penultimate_hidden_states');
    const count = (c.image_size / c.patch_size) ** 2;
    return {
      embeds: toFloat32(out['image_embeds'], 'image_embeds'),
      patchTokens: { count, width: c.hidden_size, data: hidden.slice(c.hidden_size) },
    };
  }

  async release(): Promise<void> {
    await Promise.all([this.text.release(), this.vision.release()]);
  }
}

/**
 * The vision network with float32 input and outputs whatever the lowering's precision (the text graph does the same),
 * so the scorer reads one dtype on every provider.
 */
function imageTowerGraph(store: WeightStore, c: ClipVisionConfig, lowering: Lowering): Graph {
  const g = new Graph({ lowering, name: 'image_tower' });
  const pixels = g.input('pixel_values', 'float32', [1, c.num_channels, c.image_size, c.image_size]);
  const out = clipVision(store, cast(pixels, g.computeType), c);
  g.output('image_embeds', cast(out.imageEmbeds, 'float32'));
  g.output('penultimate_hidden_states', cast(out.penultimate, 'float32'));
  return g;
}
