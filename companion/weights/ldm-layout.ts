/**
 * The key layout of single-file SDXL checkpoints (Stability's `sgm` training code, also what A1111 and ComfyUI save)
 * and where each tensor goes in the diffusers layout the network builders read.
 *
 *   PART_PREFIX[part]                  the checkpoint prefix of each network ("model.diffusion_model." …)
 *   ldmRules(part, config): LdmRules   one rule per module or tensor, derived from the part's diffusers config
 *   rules.map(key)                     the diffusers tensor(s) a checkpoint key (prefix stripped) becomes, or null
 *
 * Written from the published layouts: sgm's `configs/inference/sd_xl_base.yaml` (UNet `model_channels` 320,
 * `channel_mult` [1, 2, 4], `num_res_blocks` 2, `transformer_depth` [0, 2, 10], `use_linear_in_transformer`; the
 * `conditioner` with embedder 0 = FrozenCLIPEmbedder, a transformers CLIPTextModel kept whole under `transformer.`,
 * and embedder 1 = FrozenOpenCLIPEmbedder2, an open_clip text tower under `model.`; the `first_stage_model`
 * AutoencoderKL of ldm's `modules/diffusionmodules/model.py`), read against diffusers' module tree
 * (UNet2DConditionModel, AutoencoderKL) and transformers' CLIPTextModel(WithProjection). The structure comes from the
 * config, so the same rules serve real SDXL and the tiny test set:
 * - UNet `input_blocks` number every down resnet (with its transformer, if the level has cross-attention) and then
 *   the level's downsampler: level i, layer j is block 1 + i·(L+1) + j, the downsampler block (i+1)·(L+1).
 *   `output_blocks` run the up levels in diffusers' order, L+1 resnets each; the upsampler follows the last one
 *   inside the same block (index 2 after a transformer, else 1). `middle_block` is resnet, transformer, resnet.
 *   Transformers (SpatialTransformer ↔ Transformer2DModel) already use diffusers' names inside.
 * - VAE `decoder.up` is numbered from the lowest resolution upward in the file but diffusers' `up_blocks` start at
 *   the top: up.k ↔ up_blocks[n-1-k]. The mid-block attention is 1×1 convolutions (`q`, `k`, `v`, `proj_out`) where
 *   diffusers has linear layers: the same bytes, read as [out, in].
 * - open_clip packs each layer's q, k, v projections into one `in_proj_weight` [3C, C] (and `in_proj_bias` [3C]):
 *   rows [0, C) are q, [C, 2C) k, [2C, 3C) v — three contiguous byte ranges. Its `text_projection` is applied as
 *   `x @ P` with P [C, P_out], the transpose of the linear weight transformers stores.
 */
import { z } from 'zod';
import { parseConfig } from './diffusers';
import type { JsonObject } from './strict-json';

export type CheckpointPart = 'unet' | 'vae' | 'text_encoder' | 'text_encoder_2';

export const CHECKPOINT_PARTS: readonly CheckpointPart[] = ['unet', 'vae', 'text_encoder', 'text_encoder_2'];

/** Where each network lives in a single-file SDXL checkpoint. */
export const PART_PREFIX: Readonly<Record<CheckpointPart, string>> = {
  unet: 'model.diffusion_model.',
  vae: 'first_stage_model.',
  text_encoder: 'conditioner.embedders.0.transformer.',
  text_encoder_2: 'conditioner.embedders.1.model.',
};

/** How a diffusers tensor is read from the checkpoint tensor a rule matched. */
export type TensorTransform =
  /** The stored bytes as they are. */
  | { readonly kind: 'as-stored' }
  /** A [out, in, 1, 1] convolution weight read as the [out, in] linear weight it equals (same bytes). */
  | { readonly kind: 'conv1x1-as-linear' }
  /** Part `index` of `parts` equal contiguous slices along dim 0 (open_clip's packed q/k/v). */
  | { readonly kind: 'rows'; readonly index: number; readonly parts: number }
  /** The transpose of a 2-D stored tensor (open_clip's text_projection). */
  | { readonly kind: 'transposed' };

export interface MappedTensor {
  readonly key: string;
  readonly transform: TensorTransform;
}

export interface LdmRules {
  /** The diffusers tensors a checkpoint key (part prefix stripped) becomes; [] for a key ignored on purpose; null when no rule knows it. */
  map(key: string): readonly MappedTensor[] | null;
}

/** A module or tensor path of the checkpoint and what it becomes; tensor-level rules (`tensor`) take no suffix. */
interface Rule {
  readonly to: readonly MappedTensor[] | string;
  readonly tensor: boolean;
}

const AS_STORED: TensorTransform = { kind: 'as-stored' };

class RuleTable implements LdmRules {
  private readonly rules = new Map<string, Rule>();

  /** A module: every tensor below `from` goes below `to` (suffix kept), read as `transform`. */
  module(from: string, to: string, transform: TensorTransform = AS_STORED): this {
    return this.add(from, { to: transform === AS_STORED ? to : [{ key: to, transform }], tensor: false });
  }

  /** One tensor becoming one or more diffusers tensors ([] = ignored on purpose). */
  tensor(from: string, to: readonly MappedTensor[]): this {
    return this.add(from, { to, tensor: true });
  }

  private add(from: string, rule: Rule): this {
    if (this.rules.has(from)) throw new Error(`ldm layout: two rules for "${from}"`);
    this.rules.set(from, rule);
    return this;
  }

  map(key: string): readonly MappedTensor[] | null {
    const parts = key.split('.');
    for (let n = parts.length; n > 0; n--) {
      const rule = this.rules.get(parts.slice(0, n).join('.'));
      if (rule === undefined) continue;
      const suffix = parts.slice(n).join('.');
      if (rule.tensor) return suffix === '' ? rule.to as readonly MappedTensor[] : null;
      if (suffix === '') return null;
      if (typeof rule.to === 'string') return [{ key: `${rule.to}.${suffix}`, transform: AS_STORED }];
      // a module read with a transform: the transform applies to its weight; its bias is stored as it is
      return rule.to.map((m) => ({ key: `${m.key}.${suffix}`, transform: suffix === 'weight' ? m.transform : AS_STORED }));
    }
    return null;
  }
}

/** The rules of one part, from that part's diffusers config (unet/, vae/, text_encoder/ or text_encoder_2/ config.json). */
export function ldmRules(part: CheckpointPart, config: JsonObject, configFile: string): LdmRules {
  switch (part) {
    case 'unet':
      return unetRules(parseConfig(UNetLayoutConfig, config, configFile));
    case 'vae':
      return vaeRules(parseConfig(VaeLayoutConfig, config, configFile));
    case 'text_encoder':
      // FrozenCLIPEmbedder keeps the transformers model whole: its keys are diffusers' already.
      return new RuleTable().module('text_model', 'text_model');
    case 'text_encoder_2':
      return openClipTextRules(parseConfig(ClipTextLayoutConfig, config, configFile));
    default: {
      const never: never = part;
      throw new Error(`unknown checkpoint part ${String(never)}`);
    }
  }
}

// Only the structural keys are read here; the network builders validate the whole config.
const UNetLayoutConfig = z.looseObject({
  layers_per_block: z.number().int().positive(),
  down_block_types: z.array(z.enum(['DownBlock2D', 'CrossAttnDownBlock2D'])).min(1),
  up_block_types: z.array(z.enum(['UpBlock2D', 'CrossAttnUpBlock2D'])).min(1),
}).refine((c) => c.up_block_types.length === c.down_block_types.length, { message: 'down_block_types and up_block_types differ in length' });

const VaeLayoutConfig = z.looseObject({
  layers_per_block: z.number().int().positive(),
  block_out_channels: z.array(z.number().int().positive()).min(1),
});

const ClipTextLayoutConfig = z.looseObject({ num_hidden_layers: z.number().int().positive() });

/** ldm's ResBlock (in_layers = norm, SiLU, conv; emb_layers = SiLU, linear; out_layers = norm, SiLU, dropout, conv). */
function unetResnet(t: RuleTable, from: string, to: string): void {
  t.module(`${from}.in_layers.0`, `${to}.norm1`)
    .module(`${from}.in_layers.2`, `${to}.conv1`)
    .module(`${from}.emb_layers.1`, `${to}.time_emb_proj`)
    .module(`${from}.out_layers.0`, `${to}.norm2`)
    .module(`${from}.out_layers.3`, `${to}.conv2`)
    .module(`${from}.skip_connection`, `${to}.conv_shortcut`);
}

function unetRules(c: z.infer<typeof UNetLayoutConfig>): LdmRules {
  const t = new RuleTable()
    .module('time_embed.0', 'time_embedding.linear_1')
    .module('time_embed.2', 'time_embedding.linear_2')
    .module('label_emb.0.0', 'add_embedding.linear_1')
    .module('label_emb.0.2', 'add_embedding.linear_2')
    .module('input_blocks.0.0', 'conv_in')
    .module('out.0', 'conv_norm_out')
    .module('out.2', 'conv_out');
  const levels = c.down_block_types.length;
  const per = c.layers_per_block;
  c.down_block_types.forEach((type, i) => {
    for (let j = 0; j < per; j++) {
      const block = 1 + i * (per + 1) + j;
      unetResnet(t, `input_blocks.${block}.0`, `down_blocks.${i}.resnets.${j}`);
      if (type === 'CrossAttnDownBlock2D') t.module(`input_blocks.${block}.1`, `down_blocks.${i}.attentions.${j}`);
    }
    if (i < levels - 1) t.module(`input_blocks.${(i + 1) * (per + 1)}.0.op`, `down_blocks.${i}.downsamplers.0.conv`);
  });
  unetResnet(t, 'middle_block.0', 'mid_block.resnets.0');
  t.module('middle_block.1', 'mid_block.attentions.0');
  unetResnet(t, 'middle_block.2', 'mid_block.resnets.1');
  c.up_block_types.forEach((type, i) => {
    const attention = type === 'CrossAttnUpBlock2D';
    for (let j = 0; j <= per; j++) {
      const block = i * (per + 1) + j;
      unetResnet(t, `output_blocks.${block}.0`, `up_blocks.${i}.resnets.${j}`);
      if (attention) t.module(`output_blocks.${block}.1`, `up_blocks.${i}.attentions.${j}`);
      if (j === per && i < levels - 1) t.module(`output_blocks.${block}.${attention ? 2 : 1}.conv`, `up_blocks.${i}.upsamplers.0.conv`);
    }
  });
  return t;
}

/** ldm's ResnetBlock: the same names as diffusers' ResnetBlock2D except the 1×1 shortcut. */
function vaeResnet(t: RuleTable, from: string, to: string): void {
  for (const name of ['norm1', 'conv1', 'norm2', 'conv2']) t.module(`${from}.${name}`, `${to}.${name}`);
  t.module(`${from}.nin_shortcut`, `${to}.conv_shortcut`);
}

function vaeMid(t: RuleTable, side: 'encoder' | 'decoder'): void {
  vaeResnet(t, `${side}.mid.block_1`, `${side}.mid_block.resnets.0`);
  vaeResnet(t, `${side}.mid.block_2`, `${side}.mid_block.resnets.1`);
  const attn = `${side}.mid.attn_1`;
  const to = `${side}.mid_block.attentions.0`;
  const linear: TensorTransform = { kind: 'conv1x1-as-linear' };
  t.module(`${attn}.norm`, `${to}.group_norm`)
    .module(`${attn}.q`, `${to}.to_q`, linear)
    .module(`${attn}.k`, `${to}.to_k`, linear)
    .module(`${attn}.v`, `${to}.to_v`, linear)
    .module(`${attn}.proj_out`, `${to}.to_out.0`, linear);
}

function vaeRules(c: z.infer<typeof VaeLayoutConfig>): LdmRules {
  const t = new RuleTable();
  for (const m of ['encoder.conv_in', 'encoder.conv_out', 'decoder.conv_in', 'decoder.conv_out', 'quant_conv', 'post_quant_conv']) t.module(m, m);
  t.module('encoder.norm_out', 'encoder.conv_norm_out').module('decoder.norm_out', 'decoder.conv_norm_out');
  const levels = c.block_out_channels.length;
  const per = c.layers_per_block;
  for (let i = 0; i < levels; i++) {
    for (let j = 0; j < per; j++) vaeResnet(t, `encoder.down.${i}.block.${j}`, `encoder.down_blocks.${i}.resnets.${j}`);
    if (i < levels - 1) t.module(`encoder.down.${i}.downsample.conv`, `encoder.down_blocks.${i}.downsamplers.0.conv`);
  }
  for (let k = 0; k < levels; k++) {
    const up = levels - 1 - k;
    for (let j = 0; j <= per; j++) vaeResnet(t, `decoder.up.${k}.block.${j}`, `decoder.up_blocks.${up}.resnets.${j}`);
    if (k > 0) t.module(`decoder.up.${k}.upsample.conv`, `decoder.up_blocks.${up}.upsamplers.0.conv`);
  }
  vaeMid(t, 'encoder');
  vaeMid(t, 'decoder');
  return t;
}

function openClipTextRules(c: z.infer<typeof ClipTextLayoutConfig>): LdmRules {
  const whole = (key: string): MappedTensor[] => [{ key, transform: AS_STORED }];
  const thirds = (names: readonly string[]): MappedTensor[] =>
    names.map((key, index) => ({ key, transform: { kind: 'rows', index, parts: names.length } }));
  const t = new RuleTable()
    .module('token_embedding', 'text_model.embeddings.token_embedding')
    .tensor('positional_embedding', whole('text_model.embeddings.position_embedding.weight'))
    .module('ln_final', 'text_model.final_layer_norm')
    .tensor('text_projection', [{ key: 'text_projection.weight', transform: { kind: 'transposed' } }])
    // CLIP's contrastive temperature: no use for a text encoder
    .tensor('logit_scale', []);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const from = `transformer.resblocks.${i}`;
    const to = `text_model.encoder.layers.${i}`;
    const qkv = (kind: string) => thirds(['q_proj', 'k_proj', 'v_proj'].map((p) => `${to}.self_attn.${p}.${kind}`));
    t.module(`${from}.ln_1`, `${to}.layer_norm1`)
      .tensor(`${from}.attn.in_proj_weight`, qkv('weight'))
      .tensor(`${from}.attn.in_proj_bias`, qkv('bias'))
      .module(`${from}.attn.out_proj`, `${to}.self_attn.out_proj`)
      .module(`${from}.ln_2`, `${to}.layer_norm2`)
      .module(`${from}.mlp.c_fc`, `${to}.mlp.fc1`)
      .module(`${from}.mlp.c_proj`, `${to}.mlp.fc2`);
  }
  return t;
}
