/**
 * AutoencoderKL (diffusers models/autoencoders/autoencoder_kl.py + vae.py Encoder/Decoder) as two graphs:
 *   decoder: latents (pipeline space) → ÷ scaling_factor (+ shift_factor) → post_quant_conv → Decoder → sample [-1, 1]
 *   encoder: image [-1, 1] → Encoder → quant_conv → latent_mean, latent_std (logvar clamped to [-30, 20]) and
 *            latent_mean_scaled = (mean − shift) · scaling_factor (img2img init latents).
 */
import { z } from 'zod';
import { type Graph, GraphBuildError, type Value } from '../onnx/graph';
import { add, div, exp, mul, reshape, slice, staticDim, sub, transpose } from '../onnx/ops/basic';
import { attention, conv2d, groupNorm, linear } from '../onnx/ops/nn';
import type { WeightScope } from '../weights/tensor';
import { resnetBlock2D, upsample2D } from './unet/resnet';

export const VaeConfigSchema = z.looseObject({
  in_channels: z.number().int().positive(),
  out_channels: z.number().int().positive(),
  latent_channels: z.number().int().positive(),
  block_out_channels: z.array(z.number().int().positive()).min(1),
  down_block_types: z.array(z.literal('DownEncoderBlock2D')).min(1),
  up_block_types: z.array(z.literal('UpDecoderBlock2D')).min(1),
  layers_per_block: z.number().int().positive(),
  norm_num_groups: z.number().int().positive().default(32),
  act_fn: z.literal('silu').default('silu'),
  scaling_factor: z.number().positive(),
  shift_factor: z.number().nullish(),
  use_quant_conv: z.boolean().default(true),
  use_post_quant_conv: z.boolean().default(true),
  mid_block_add_attention: z.boolean().default(true),
  latents_mean: z.null().optional(),
  latents_std: z.null().optional(),
}).superRefine((c, ctx) => {
  const n = c.block_out_channels.length;
  if (c.down_block_types.length !== n) ctx.addIssue({ code: 'custom', path: ['down_block_types'], message: `has ${c.down_block_types.length} entries, block_out_channels has ${n}` });
  if (c.up_block_types.length !== n) ctx.addIssue({ code: 'custom', path: ['up_block_types'], message: `has ${c.up_block_types.length} entries, block_out_channels has ${n}` });
});
export type VaeConfig = z.infer<typeof VaeConfigSchema>;

export function parseVaeConfig(raw: unknown, source = 'vae/config.json'): VaeConfig {
  const r = VaeConfigSchema.safeParse(raw);
  if (!r.success) {
    throw new GraphBuildError(`${source}: unsupported or invalid AutoencoderKL config:\n${r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}`);
  }
  return r.data;
}

const EPS = 1e-6; // diffusers' VAE uses eps 1e-6 in every GroupNorm

/** UNetMidBlock2D: resnet, single-head self-attention with its own GroupNorm (residual inside), resnet. */
function midBlock(w: WeightScope, x: Value, c: VaeConfig): Value {
  const ch = staticDim(x, 1);
  const r = { outChannels: ch, groups: c.norm_num_groups, eps: EPS };
  let h = resnetBlock2D(w.child('resnets').child(0), x, null, r);
  if (c.mid_block_add_attention) h = vaeAttention(w.child('attentions').child(0), h, c.norm_num_groups);
  return resnetBlock2D(w.child('resnets').child(1), h, null, r);
}

/** Attention(heads = 1, dim_head = channels, bias, residual_connection) over the H·W positions. */
function vaeAttention(w: WeightScope, x: Value, groups: number): Value {
  const [b, ch, hh, ww] = [staticDim(x, 0), staticDim(x, 1), staticDim(x, 2), staticDim(x, 3)];
  const normed = groupNorm(w.child('group_norm'), x, { groups, eps: EPS });
  const tokens = x.graph.at(w.path, () => transpose(reshape(normed, [b, ch, hh * ww]), [0, 2, 1]));
  const q = linear(w.child('to_q'), tokens, ch);
  const k = linear(w.child('to_k'), tokens, ch);
  const v = linear(w.child('to_v'), tokens, ch);
  const o = linear(w.child('to_out').child(0), x.graph.at(w.path, () => attention(q, k, v, { heads: 1 })), ch);
  return x.graph.at(w.path, () => add(reshape(transpose(o, [0, 2, 1]), [b, ch, hh, ww]), x));
}

/** Downsample2D(padding=0): F.pad (0, 1, 0, 1) then a 3×3 stride-2 conv, i.e. ONNX pads [0, 0, 1, 1]. */
function downsampleAsymmetric(w: WeightScope, x: Value): Value {
  const g = x.graph;
  const ch = staticDim(x, 1);
  const weight = g.param(w.tensor('weight', [ch, ch, 3, 3]));
  const bias = g.param(w.tensor('bias', [ch]));
  return g.at(w.path, () => g.op('Conv', [x, weight, bias], { kernel_shape: [3, 3], pads: [0, 0, 1, 1], strides: [2, 2] }));
}

function encoder(w: WeightScope, x: Value, c: VaeConfig): Value {
  const n = c.block_out_channels.length;
  let h = conv2d(w.child('conv_in'), x, { outChannels: c.block_out_channels[0]!, kernel: 3, padding: 1 });
  for (let i = 0; i < n; i++) {
    const block = w.child('down_blocks').child(i);
    for (let j = 0; j < c.layers_per_block; j++) {
      h = resnetBlock2D(block.child('resnets').child(j), h, null, { outChannels: c.block_out_channels[i]!, groups: c.norm_num_groups, eps: EPS });
    }
    if (i < n - 1) h = downsampleAsymmetric(block.child('downsamplers').child(0).child('conv'), h);
  }
  h = midBlock(w.child('mid_block'), h, c);
  h = groupNorm(w.child('conv_norm_out'), h, { groups: c.norm_num_groups, eps: EPS, silu: true });
  return conv2d(w.child('conv_out'), h, { outChannels: 2 * c.latent_channels, kernel: 3, padding: 1 });
}

function decoder(w: WeightScope, z: Value, c: VaeConfig): Value {
  const n = c.block_out_channels.length;
  const rev = [...c.block_out_channels].reverse();
  let h = conv2d(w.child('conv_in'), z, { outChannels: rev[0]!, kernel: 3, padding: 1 });
  h = midBlock(w.child('mid_block'), h, c);
  for (let i = 0; i < n; i++) {
    const block = w.child('up_blocks').child(i);
    for (let j = 0; j <= c.layers_per_block; j++) {
      h = resnetBlock2D(block.child('resnets').child(j), h, null, { outChannels: rev[i]!, groups: c.norm_num_groups, eps: EPS });
    }
    if (i < n - 1) h = upsample2D(block.child('upsamplers').child(0), h);
  }
  h = groupNorm(w.child('conv_norm_out'), h, { groups: c.norm_num_groups, eps: EPS, silu: true });
  return conv2d(w.child('conv_out'), h, { outChannels: c.out_channels, kernel: 3, padding: 1 });
}

/** Decoder graph: input `latents` [B, latent, h, w] in pipeline space; output `sample` [B, out, 8h, 8w]. */
export function buildVaeDecoder(g: Graph, w: WeightScope, c: VaeConfig, o: { batch: number; height: number; width: number }): void {
  const latents = g.input('latents', g.computeType, [o.batch, c.latent_channels, o.height, o.width]);
  let z = div(latents, c.scaling_factor);
  if (c.shift_factor != null) z = add(z, c.shift_factor);
  if (c.use_post_quant_conv) z = conv2d(w.child('post_quant_conv'), z, { outChannels: c.latent_channels, kernel: 1 });
  g.output('sample', decoder(w.child('decoder'), z, c));
}

/** Encoder graph: input `image` [B, in, H, W] in [-1, 1]; outputs latent_mean, latent_std, latent_mean_scaled. */
export function buildVaeEncoder(g: Graph, w: WeightScope, c: VaeConfig, o: { batch: number; height: number; width: number }): void {
  const image = g.input('image', g.computeType, [o.batch, c.in_channels, o.height, o.width]);
  let moments = encoder(w.child('encoder'), image, c);
  if (c.use_quant_conv) moments = conv2d(w.child('quant_conv'), moments, { outChannels: 2 * c.latent_channels, kernel: 1 });
  const L = c.latent_channels;
  const mean = slice(moments, [0], [L], [1]);
  const raw = slice(moments, [L], [2 * L], [1]);
  const logvar = g.op('Clip', [raw, g.scalar(-30), g.scalar(20)], {}, { shape: raw.shape, dtype: raw.dtype });
  g.output('latent_mean', mean);
  g.output('latent_std', exp(mul(logvar, 0.5)));
  g.output('latent_mean_scaled', mul(c.shift_factor != null ? sub(mean, c.shift_factor) : mean, c.scaling_factor));
}
