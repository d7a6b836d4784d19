/**
 * From a diffusers folder (and optionally a style-adapter checkpoint) to the UNet graph the pipeline runs:
 * config parsed, weight file chosen (fp16 variant for fp16 lowerings), adapter matched to the attention plan, and
 * every stored tensor either read or declared ignored — a wrong or incomplete checkpoint fails here, by name.
 */
import { Graph } from '../../onnx/graph';
import type { Lowering } from '../../onnx/lowering';
import type { DiffusersComponent } from '../../weights/diffusers';
import { openStyleAdapter, type StyleAdapter } from '../adapter';
import { type AttentionPlan, planAttention, type StyleLayerSelection } from './attention-plan';
import { parseUNetConfig, type UNetConfig } from './config';
import { buildUNet, type UNetGraphIO } from './unet';

export interface StyleUNetRequest {
  readonly unet: DiffusersComponent;
  readonly lowering: Lowering;
  /** A style adapter checkpoint (.safetensors or .bin); without one the UNet is text-only. */
  readonly adapterFile?: string;
  /** Which cross-attention layers get the style branch (ignored without an adapter). */
  readonly style: StyleLayerSelection;
  /** Emit the teacher self-attention sharing (teacher_index input) in every attn1. */
  readonly teacherShare: boolean;
  readonly batch: number;
  /** Latent height and width (image size / 8). */
  readonly height: number;
  readonly width: number;
  readonly textTokens?: number;
}

export interface StyleUNetGraph extends UNetGraphIO {
  readonly graph: Graph;
  readonly config: UNetConfig;
  readonly plan: AttentionPlan;
  readonly adapter: StyleAdapter | null;
  /** E.g. the fp16 variant was asked for but the folder has none. */
  readonly notes: readonly string[];
}

export function buildStyleUNetGraph(r: StyleUNetRequest): StyleUNetGraph {
  const config = parseUNetConfig(r.unet.config(), r.unet.configFile);
  const choice = r.unet.weights(r.lowering.precision === 'fp16' ? { variant: 'fp16' } : {});
  const store = choice.open();
  const adapter = r.adapterFile ? openStyleAdapter(r.adapterFile, config.cross_attention_dim) : null;
  const plan = planAttention(config, {
    style: adapter ? r.style : { preset: 'none' },
    styleTokens: adapter?.tokens ?? 0,
    teacherShare: r.teacherShare,
  });
  const graph = new Graph({ lowering: r.lowering, name: 'unet' });
  const io = buildUNet(graph, store, config, plan, {
    batch: r.batch, height: r.height, width: r.width, textTokens: r.textTokens ?? 77,
    ...(adapter ? { styleWeights: adapter.styleWeights(plan, config.cross_attention_dim) } : {}),
    ...(adapter?.convIn ? { convIn: adapter.convIn } : {}),
  });
  store.assertAllRead(adapter?.convIn ? [/^conv_in\./] : []);
  // The image projection lives in its own graph (image-proj.ts); here only the K/V (and conv_in) must be used.
  adapter?.store.assertAllRead([...adapter.ignoredKeys(plan), /^(style_)?image_proj\./]);
  return { ...io, graph, config, plan, adapter, notes: choice.note ? [choice.note] : [] };
}
