/**
 * UNet2DConditionModel as one ONNX graph (SDXL "text_time" and SD 1.x types), with the style-adapter attention of
 * the AttentionPlan inside it. One session serves every StyleStudio setting: behaviour is chosen per run by the
 * small inputs ip_scale, adain_strength, teacher_mask and teacher_index.
 *
 * Graph inputs (static shapes per resolution; the batch B may be symbolic, so one session serves the teacher
 * phase's 4 rows and the 2 rows after it without a second copy of the weights):
 *   sample [B, in, h, w] · timestep [B] (float) · encoder_hidden_states [B, textTokens + styleTokens, cross_dim]
 *   SDXL only: text_embeds [B, pooled] · time_ids [B, 6]
 *   with style layers: ip_scale [1] · adain_strength [1] · teacher_mask [B] (1 = teacher row, text-only);
 *     with several reference slots also style_bias [B, styleTokens] (per-row logit bias of the style tokens)
 *   with teacher sharing: teacher_index [B] int64 (e.g. [0, 0, 2, 2] while sharing, [0, 1, 2, 3] after)
 * Output: noise_pred [B, out, h, w].
 */
import { type Dim, type Graph, GraphBuildError, type Value } from '../../onnx/graph';
import { unsqueeze } from '../../onnx/ops/basic';
import { conv2d, groupNorm } from '../../onnx/ops/nn';
import type { WeightScope } from '../../weights/tensor';
import { ADAIN_VARIANCE_FLOOR, type AttentionContext, type StyleLayerWeights } from './attention';
import type { AttentionPlan } from './attention-plan';
import { type BlockContext, downBlock, midBlock2DCrossAttn, upBlock } from './blocks';
import { type UNetConfig, unetDims } from './config';
import { textTimeEmbedding, timestepEmbedding, timesteps } from './embeddings';

export interface UNetGraphOptions {
  /** Batch rows: a number, or a symbolic name (e.g. 'rows') for a graph that takes any row count. */
  readonly batch: Dim;
  /** Latent height and width. */
  readonly height: number;
  readonly width: number;
  /** Text tokens at the front of encoder_hidden_states (77 for CLIP). */
  readonly textTokens: number;
  /** SDXL: width of text_embeds; default projection_class_embeddings_input_dim − 6 · addition_time_embed_dim. */
  readonly pooledDim?: number;
  /** Adapter K/V projections for each style layer of the plan (see adapter.ts). */
  readonly styleWeights?: (path: string) => StyleLayerWeights;
  /** Replaces unet.conv_in (CSGO checkpoints may carry `conv_in_unet_sd`). */
  readonly convIn?: WeightScope;
  /** Floor on AdaIN's variances, default ADAIN_VARIANCE_FLOOR (METHOD.md §1 [ours]); 0 = the official code. */
  readonly adainVarianceFloor?: number;
}

export interface UNetGraphIO {
  readonly inputs: readonly string[];
  readonly output: 'noise_pred';
}

export function buildUNet(g: Graph, w: WeightScope, c: UNetConfig, plan: AttentionPlan, o: UNetGraphOptions): UNetGraphIO {
  const dims = unetDims(c);
  const n = c.block_out_channels.length;
  const factor = 2 ** (n - 1);
  if (o.height % factor !== 0 || o.width % factor !== 0) {
    throw new GraphBuildError(`latent size ${o.height}×${o.width} must be a multiple of ${factor} for ${n} UNet blocks`);
  }
  const ft = g.computeType;
  const B = o.batch;
  const inputs: string[] = [];
  const input = (name: string, dtype: Parameters<Graph['input']>[1], shape: readonly Dim[]) => {
    inputs.push(name);
    return g.input(name, dtype, shape);
  };
  const sample = input('sample', ft, [B, c.in_channels, o.height, o.width]);
  const t = input('timestep', 'float32', [B]);
  const ehs = input('encoder_hidden_states', ft, [B, o.textTokens + plan.styleTokens, c.cross_attention_dim]);

  // time embedding (+ SDXL's text_time added embedding)
  const tProj = g.at('time_proj', () => timesteps(t, { channels: c.block_out_channels[0]!, flipSinToCos: c.flip_sin_to_cos, downscaleFreqShift: c.freq_shift }));
  let temb = timestepEmbedding(w.child('time_embedding'), g.cast(tProj, ft), dims.timeEmbedDim);
  if (c.addition_embed_type === 'text_time') {
    // time_ids are 6 numbers (original size, crop top-left, target size) in SDXL pipelines
    const pooledDim = o.pooledDim ?? c.projection_class_embeddings_input_dim! - 6 * c.addition_time_embed_dim!;
    const textEmbeds = input('text_embeds', ft, [B, pooledDim]);
    const timeIds = input('time_ids', 'float32', [B, 6]);
    const aug = textTimeEmbedding(w, textEmbeds, timeIds, {
      addTimeEmbedDim: c.addition_time_embed_dim!, projectionInputDim: c.projection_class_embeddings_input_dim!,
      timeEmbedDim: dims.timeEmbedDim, flipSinToCos: c.flip_sin_to_cos, freqShift: c.freq_shift,
    });
    temb = g.op('Add', [temb, aug]);
  }

  const attn: AttentionContext = {
    heads: 0, // set per Transformer2DModel (transformer.ts)
    unetRoot: w.path,
    textTokens: o.textTokens,
    adainVarianceFloor: o.adainVarianceFloor ?? ADAIN_VARIANCE_FLOOR,
    ...(plan.styleLayers.length > 0 ? {
      style: {
        ipScale: input('ip_scale', 'float32', [1]),
        adainStrength: input('adain_strength', 'float32', [1]),
        teacherMask: unsqueeze(input('teacher_mask', 'float32', [B]), [1, 2]),
        ...(plan.styleSlots > 1 ? { tokenBias: unsqueeze(input('style_bias', 'float32', [B, plan.styleTokens]), [1, 2]) } : {}),
      },
      styleWeights: requireStyleWeights(o.styleWeights),
    } : {}),
    ...(plan.teacherShare ? { teacherIndex: input('teacher_index', 'int64', [B]) } : {}),
  };
  const ctx: BlockContext = { temb, ehs, plan, attn };
  const groups = c.norm_num_groups;
  const eps = c.norm_eps;

  let h = conv2d(o.convIn ?? w.child('conv_in'), sample, { outChannels: c.block_out_channels[0]!, kernel: 3, padding: 1 });
  const skips: Value[] = [h];
  c.down_block_types.forEach((type, i) => {
    const r = downBlock(w.child('down_blocks').child(i), h, {
      outChannels: c.block_out_channels[i]!, layers: c.layers_per_block, groups, eps, downsample: i < n - 1,
      ...(type === 'CrossAttnDownBlock2D' ? { attention: { heads: dims.heads[i]!, layers: dims.transformerLayers[i]!, groups, useLinearProjection: c.use_linear_projection } } : {}),
    }, ctx);
    h = r.out;
    skips.push(...r.skips);
  });
  h = midBlock2DCrossAttn(w.child('mid_block'), h, {
    outChannels: c.block_out_channels[n - 1]!, layers: 1, groups, eps,
    attention: { heads: dims.heads[n - 1]!, layers: dims.transformerLayers[n - 1]!, groups, useLinearProjection: c.use_linear_projection },
  }, ctx);
  c.up_block_types.forEach((type, i) => {
    const r = n - 1 - i;
    h = upBlock(w.child('up_blocks').child(i), h, skips, {
      outChannels: c.block_out_channels[r]!, layers: c.layers_per_block + 1, groups, eps, upsample: i < n - 1,
      ...(type === 'CrossAttnUpBlock2D' ? { attention: { heads: dims.heads[r]!, layers: dims.transformerLayers[r]!, groups, useLinearProjection: c.use_linear_projection } } : {}),
    }, ctx);
  });
  if (skips.length !== 0) throw new GraphBuildError(`UNet wiring: ${skips.length} skip connections left unused`);
  h = groupNorm(w.child('conv_norm_out'), h, { groups, eps, silu: true });
  h = conv2d(w.child('conv_out'), h, { outChannels: c.out_channels, kernel: 3, padding: 1 });
  g.output('noise_pred', h);
  return { inputs, output: 'noise_pred' };
}

function requireStyleWeights(f: UNetGraphOptions['styleWeights']): (path: string) => StyleLayerWeights {
  if (!f) throw new GraphBuildError('the attention plan has style layers but no adapter weights were given (styleWeights)');
  return f;
}
