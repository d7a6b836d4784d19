/**
 * Building and serialising the big graphs (UNet, VAE decoder) takes a second or two of pure JavaScript for SDXL
 * (6k nodes, measured: ~0.8 s build + ~0.9 s serialise for the portable lowering), so it runs in a short-lived
 * worker thread: the daemon's event loop keeps answering while a new size is prepared. The specs are plain data;
 * the worker opens the weight files itself (headers only) and hands back the ModelProto bytes.
 */
import * as path from 'node:path';
import { Graph, type SerializedModel } from '../onnx/graph';
import type { Lowering } from '../onnx/lowering';
import { openStyleAdapter } from '../models/adapter';
import { buildClipVision, parseClipVisionConfig } from '../models/clip-vision';
import { buildImageProjection } from '../models/image-proj';
import { planAttention, type StyleLayerSelection } from '../models/unet/attention-plan';
import { parseUNetConfig } from '../models/unet/config';
import { buildUNet } from '../models/unet/unet';
import { buildVaeDecoder, buildVaeEncoder, parseVaeConfig } from '../models/vae';
import { readJsonObjectFile } from '../weights/files';
import { openWeightSource, type WeightSource } from '../weights/single-file';
import { runWorkerTask } from './worker-task';

export interface UNetGraphSpec {
  readonly kind: 'unet';
  readonly lowering: Lowering;
  readonly configFile: string;
  readonly weights: WeightSource;
  readonly adapterFile: string | null;
  readonly style: StyleLayerSelection;
  /** Style references side by side in encoder_hidden_states (absent or 1: the plain adapter graph). */
  readonly styleSlots?: number;
  readonly teacherShare: boolean;
  /** Batch rows: a number, or a symbolic name for a graph that takes any row count. */
  readonly rows: number | string;
  readonly latentHeight: number;
  readonly latentWidth: number;
  readonly pooledDim: number;
  readonly adainVarianceFloor?: number;
}

export interface VaeDecoderGraphSpec {
  /** The decoder (latents → image), or the encoder (image → latent distribution) of an img2img job's init image. */
  readonly kind: 'vae-decoder' | 'vae-encoder';
  readonly lowering: Lowering;
  readonly configFile: string;
  readonly weights: WeightSource;
  readonly latentHeight: number;
  readonly latentWidth: number;
}

export interface ImageEncoderGraphSpec {
  readonly kind: 'image-encoder';
  readonly lowering: Lowering;
  readonly configFile: string;
  readonly weights: WeightSource;
}

/** The adapter's image projection over [negative ; style] features (batch 2). */
export interface ImageProjectionGraphSpec {
  readonly kind: 'image-projection';
  readonly lowering: Lowering;
  readonly adapterFile: string;
  readonly crossDim: number;
  /** Feature sequence length for a Resampler (penultimate hidden states); undefined for image_embeds. */
  readonly sequence?: number;
}

export type GraphSpec = UNetGraphSpec | VaeDecoderGraphSpec | ImageEncoderGraphSpec | ImageProjectionGraphSpec;

/** Builds and serialises the graph a spec describes (on whatever thread calls it). */
export function buildGraph(spec: GraphSpec): SerializedModel {
  switch (spec.kind) {
    case 'unet': {
      const c = parseUNetConfig(readJsonObjectFile(spec.configFile, 'config.json'), spec.configFile);
      const styled = spec.style.preset !== 'none';
      const adapter = styled ? openStyleAdapter(requireAdapter(spec.adapterFile), c.cross_attention_dim) : null;
      const plan = planAttention(c, { style: spec.style, styleTokens: adapter?.tokens ?? 0, teacherShare: spec.teacherShare, styleSlots: spec.styleSlots ?? 1 });
      const store = openWeightSource(spec.weights);
      const g = new Graph({ lowering: spec.lowering, name: 'unet' });
      buildUNet(g, store, c, plan, {
        batch: spec.rows, height: spec.latentHeight, width: spec.latentWidth, textTokens: 77, pooledDim: spec.pooledDim,
        ...(adapter ? { styleWeights: adapter.styleWeights(plan, c.cross_attention_dim) } : {}),
        ...(adapter?.convIn ? { convIn: adapter.convIn } : {}),
        ...(spec.adainVarianceFloor !== undefined ? { adainVarianceFloor: spec.adainVarianceFloor } : {}),
      });
      store.assertAllRead(adapter?.convIn ? [/^conv_in\./] : []);
      // the image projection has its own graph; every other adapter tensor must be used or deliberately ignored
      adapter?.store.assertAllRead([...adapter.ignoredKeys(plan), /^(style_)?image_proj\./]);
      return g.serialize();
    }
    case 'vae-decoder': {
      const c = parseVaeConfig(readJsonObjectFile(spec.configFile, 'config.json'), spec.configFile);
      const store = openWeightSource(spec.weights);
      const g = new Graph({ lowering: spec.lowering, name: 'vae_decoder' });
      buildVaeDecoder(g, store, c, { batch: 1, height: spec.latentHeight, width: spec.latentWidth });
      return g.serialize();
    }
    case 'vae-encoder': {
      const c = parseVaeConfig(readJsonObjectFile(spec.configFile, 'config.json'), spec.configFile);
      const store = openWeightSource(spec.weights);
      const g = new Graph({ lowering: spec.lowering, name: 'vae_encoder' });
      const f = 2 ** (c.block_out_channels.length - 1);
      buildVaeEncoder(g, store, c, { batch: 1, height: spec.latentHeight * f, width: spec.latentWidth * f });
      return g.serialize();
    }
    case 'image-encoder': {
      const c = parseClipVisionConfig(readJsonObjectFile(spec.configFile, 'config.json'), spec.configFile);
      const store = openWeightSource(spec.weights);
      const g = new Graph({ lowering: spec.lowering, name: 'image_encoder' });
      buildClipVision(g, store, c, { batch: 1 });
      store.assertAllRead([/position_ids$/, /^text_model\./, /^text_projection\./, /logit_scale/]);
      return g.serialize();
    }
    case 'image-projection': {
      const adapter = openStyleAdapter(spec.adapterFile, spec.crossDim);
      const g = new Graph({ lowering: spec.lowering, name: 'image_projection' });
      buildImageProjection(g, adapter.imageProjection, 2, spec.sequence);
      return g.serialize();
    }
    default: {
      const never: never = spec;
      throw new Error(`unknown graph spec ${JSON.stringify(never)}`);
    }
  }
}

function requireAdapter(file: string | null): string {
  if (file === null) throw new Error('style layers were asked for but no adapter file was given');
  return file;
}

const WORKER_FILE = path.join(__dirname, 'graph-build-worker.js');

export type GraphBuildReply =
  | { readonly ok: true; readonly model: SerializedModel }
  | { readonly ok: false; readonly name: string; readonly message: string };

/** buildGraph in a worker thread; errors keep their message (and class name in the message's context). */
export function buildGraphInWorker(spec: GraphSpec): Promise<SerializedModel> {
  return runWorkerTask<GraphSpec, GraphBuildReply, SerializedModel>(WORKER_FILE, spec, 'graph build', (r) => {
    if (r.ok) return r.model;
    const e = new Error(r.message);
    e.name = r.name;
    throw e;
  });
}
