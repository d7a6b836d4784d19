/**
 * diffusers unet_2d_blocks.py: DownBlock2D / CrossAttnDownBlock2D, UNetMidBlock2DCrossAttn, UpBlock2D /
 * CrossAttnUpBlock2D. The cross-attention blocks are the plain ones with a Transformer2DModel after each resnet.
 */
import type { Value } from '../../onnx/graph';
import { concat } from '../../onnx/ops/basic';
import type { WeightScope } from '../../weights/tensor';
import type { AttentionContext } from './attention';
import type { AttentionPlan } from './attention-plan';
import { downsample2D, resnetBlock2D, upsample2D } from './resnet';
import { transformer2D, type Transformer2DOptions } from './transformer';

export interface BlockOptions {
  readonly outChannels: number;
  readonly layers: number;
  readonly groups: number;
  readonly eps: number;
  /** Absent for DownBlock2D / UpBlock2D. */
  readonly attention?: Transformer2DOptions;
}

export interface BlockContext {
  readonly temb: Value;
  readonly ehs: Value;
  readonly plan: AttentionPlan;
  readonly attn: AttentionContext;
}

function attend(w: WeightScope, i: number, x: Value, o: BlockOptions, ctx: BlockContext): Value {
  return o.attention ? transformer2D(w.child('attentions').child(i), x, ctx.ehs, ctx.plan, ctx.attn, o.attention) : x;
}

/** Returns the block output and every skip state it contributes (after each layer, then after downsampling). */
export function downBlock(w: WeightScope, x: Value, o: BlockOptions & { readonly downsample: boolean }, ctx: BlockContext): { out: Value; skips: Value[] } {
  const skips: Value[] = [];
  let h = x;
  for (let i = 0; i < o.layers; i++) {
    h = resnetBlock2D(w.child('resnets').child(i), h, ctx.temb, { outChannels: o.outChannels, groups: o.groups, eps: o.eps });
    h = attend(w, i, h, o, ctx);
    skips.push(h);
  }
  if (o.downsample) {
    h = downsample2D(w.child('downsamplers').child(0), h);
    skips.push(h);
  }
  return { out: h, skips };
}

/** Consumes `skips` from the end (the most recent first), as diffusers pops res_hidden_states_tuple. */
export function upBlock(w: WeightScope, x: Value, skips: Value[], o: BlockOptions & { readonly upsample: boolean }, ctx: BlockContext): Value {
  let h = x;
  for (let i = 0; i < o.layers; i++) {
    const skip = skips.pop();
    if (!skip) throw new Error(`${w.path}: no skip connection left for resnet ${i}`);
    h = concat([h, skip], 1);
    h = resnetBlock2D(w.child('resnets').child(i), h, ctx.temb, { outChannels: o.outChannels, groups: o.groups, eps: o.eps });
    h = attend(w, i, h, o, ctx);
  }
  return o.upsample ? upsample2D(w.child('upsamplers').child(0), h) : h;
}

export function midBlock2DCrossAttn(w: WeightScope, x: Value, o: BlockOptions & { readonly attention: Transformer2DOptions }, ctx: BlockContext): Value {
  const r = { outChannels: o.outChannels, groups: o.groups, eps: o.eps };
  let h = resnetBlock2D(w.child('resnets').child(0), x, ctx.temb, r);
  h = transformer2D(w.child('attentions').child(0), h, ctx.ehs, ctx.plan, ctx.attn, o.attention);
  return resnetBlock2D(w.child('resnets').child(1), h, ctx.temb, r);
}
