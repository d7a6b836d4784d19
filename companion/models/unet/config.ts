/**
 * unet/config.json of a diffusers UNet2DConditionModel, parsed once at the edge. Keys keep diffusers' spelling.
 * Only the variants this engine builds are accepted; anything else fails here, naming the key and value.
 */
import { z } from 'zod';
import { codedErrorClass } from '../../../protocol';

const intOrList = z.union([z.number().int().positive(), z.array(z.number().int().positive()).min(1)]);
const off = <T extends z.ZodType>(t: T) => t.nullish();

export const UNetConfigSchema = z.looseObject({
  in_channels: z.number().int().positive(),
  out_channels: z.number().int().positive(),
  block_out_channels: z.array(z.number().int().positive()).min(1),
  layers_per_block: z.number().int().positive(),
  down_block_types: z.array(z.enum(['DownBlock2D', 'CrossAttnDownBlock2D'])).min(1),
  up_block_types: z.array(z.enum(['UpBlock2D', 'CrossAttnUpBlock2D'])).min(1),
  mid_block_type: z.literal('UNetMidBlock2DCrossAttn').default('UNetMidBlock2DCrossAttn'),
  /** diffusers quirk (unet_2d_condition.py __init__): when num_attention_heads is null, this is the HEAD COUNT. */
  attention_head_dim: intOrList.default(8),
  num_attention_heads: intOrList.nullish(),
  transformer_layers_per_block: intOrList.default(1),
  reverse_transformer_layers_per_block: z.null().optional(),
  cross_attention_dim: z.number().int().positive(),
  use_linear_projection: z.boolean().default(false),
  norm_num_groups: z.number().int().positive().default(32),
  norm_eps: z.number().positive().default(1e-5),
  act_fn: z.literal('silu').default('silu'),
  flip_sin_to_cos: z.boolean().default(true),
  freq_shift: z.number().default(0),
  downsample_padding: z.literal(1).default(1),
  mid_block_scale_factor: z.literal(1).default(1),
  resnet_time_scale_shift: z.literal('default').default('default'),
  resnet_out_scale_factor: z.literal(1).default(1),
  resnet_skip_time_act: z.literal(false).default(false),
  time_embedding_type: z.literal('positional').default('positional'),
  conv_in_kernel: z.literal(3).default(3),
  conv_out_kernel: z.literal(3).default(3),
  /** SDXL's size/crop conditioning; null for SD 1.x/2.x. */
  addition_embed_type: z.enum(['text_time']).nullish(),
  addition_time_embed_dim: z.number().int().positive().nullish(),
  projection_class_embeddings_input_dim: z.number().int().positive().nullish(),
  // Variants we do not build: present only as null/false/defaults.
  class_embed_type: off(z.null()),
  num_class_embeds: off(z.null()),
  encoder_hid_dim_type: off(z.null()),
  time_cond_proj_dim: off(z.null()),
  timestep_post_act: off(z.null()),
  time_embedding_act_fn: off(z.null()),
  time_embedding_dim: off(z.null()),
  cross_attention_norm: off(z.null()),
  only_cross_attention: z.literal(false).default(false),
  dual_cross_attention: z.literal(false).default(false),
  center_input_sample: z.literal(false).default(false),
  upcast_attention: z.union([z.literal(false), z.null()]).optional(),
  class_embeddings_concat: z.literal(false).default(false),
  mid_block_only_cross_attention: z.union([z.literal(false), z.null()]).optional(),
  attention_type: z.literal('default').default('default'),
}).superRefine((c, ctx) => {
  const n = c.block_out_channels.length;
  const same = (key: string, len: number) => {
    if (len !== n) ctx.addIssue({ code: 'custom', path: [key], message: `${key} has ${len} entries but block_out_channels has ${n}` });
  };
  same('down_block_types', c.down_block_types.length);
  same('up_block_types', c.up_block_types.length);
  for (const key of ['attention_head_dim', 'num_attention_heads', 'transformer_layers_per_block'] as const) {
    const v = c[key];
    if (Array.isArray(v)) same(key, v.length);
  }
  for (const [i, ch] of c.block_out_channels.entries()) {
    if (ch % c.norm_num_groups !== 0) {
      ctx.addIssue({ code: 'custom', path: ['block_out_channels', i], message: `block_out_channels[${i}] = ${ch} is not a multiple of norm_num_groups = ${c.norm_num_groups}` });
    }
  }
  if (c.addition_embed_type === 'text_time') {
    if (c.addition_time_embed_dim == null || c.projection_class_embeddings_input_dim == null) {
      ctx.addIssue({ code: 'custom', path: ['addition_embed_type'], message: 'addition_embed_type "text_time" needs addition_time_embed_dim and projection_class_embeddings_input_dim' });
    }
  }
});

export type UNetConfig = z.infer<typeof UNetConfigSchema>;

export class UNetConfigError extends codedErrorClass('UNetConfigError', 'BAD_UNET_CONFIG') {}

/** Parses config.json text or object; `source` names the file in errors. */
export function parseUNetConfig(raw: unknown, source = 'unet/config.json'): UNetConfig {
  const r = UNetConfigSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new UNetConfigError(`${source}: unsupported or invalid UNet config:\n${lines.join('\n')}`);
  }
  return r.data;
}

const perBlock = (v: number | number[], n: number): number[] => (Array.isArray(v) ? [...v] : Array<number>(n).fill(v));

/** Derived numbers, named once (tinygrad's "a model is a dozen numbers"). */
export interface UNetDims {
  /** Attention heads per down block (up blocks use the reverse). */
  readonly heads: readonly number[];
  readonly transformerLayers: readonly number[];
  /** 4 × block_out_channels[0] (diffusers' time_embed_dim for positional embeddings). */
  readonly timeEmbedDim: number;
}

export function unetDims(c: UNetConfig): UNetDims {
  const n = c.block_out_channels.length;
  // unet_2d_condition.py: `num_attention_heads = num_attention_heads or attention_head_dim`.
  const heads = perBlock(c.num_attention_heads ?? c.attention_head_dim, n);
  for (const [i, h] of heads.entries()) {
    const ch = c.block_out_channels[i]!;
    if (ch % h !== 0) throw new UNetConfigError(`block ${i}: ${ch} channels do not split into ${h} attention heads`);
  }
  return { heads, transformerLayers: perBlock(c.transformer_layers_per_block, n), timeEmbedDim: 4 * c.block_out_channels[0]! };
}
