/**
 * diffusers Transformer2DModel (continuous input) and BasicTransformerBlock (layer_norm, GEGLU feed-forward),
 * with the attention behaviour of each attn1/attn2 taken from the AttentionPlan.
 */
import type { Value } from '../../onnx/graph';
import { add, reshape, staticDim, transpose } from '../../onnx/ops/basic';
import { conv2d, geglu, groupNorm, layerNorm, linear } from '../../onnx/ops/nn';
import type { WeightScope } from '../../weights/tensor';
import { type AttentionContext, crossAttention, modulePath, selfAttention } from './attention';
import type { AttentionPlan } from './attention-plan';

export interface Transformer2DOptions {
  readonly heads: number;
  readonly layers: number;
  readonly groups: number;
  readonly useLinearProjection: boolean;
}

/** FeedForward(activation "geglu", mult 4): GEGLU proj (BiasSplitGelu when fused) → net.2. */
function feedForward(w: WeightScope, x: Value): Value {
  const c = staticDim(x, -1);
  const act = geglu(w.child('net').child(0).child('proj'), x, 4 * c);
  return linear(w.child('net').child(2), act, c);
}

export function basicTransformerBlock(w: WeightScope, x: Value, ehs: Value, plan: AttentionPlan, ctx: AttentionContext): Value {
  const attn1 = w.child('attn1');
  const attn2 = w.child('attn2');
  const k1 = plan.kindOf(modulePath(attn1, ctx));
  if (k1.kind !== 'self') throw new Error(`${attn1.path}: plan says ${k1.kind}`);
  let h = add(selfAttention(attn1, layerNorm(w.child('norm1'), x, 1e-5), k1, ctx), x);
  h = add(crossAttention(attn2, layerNorm(w.child('norm2'), h, 1e-5), ehs, plan.kindOf(modulePath(attn2, ctx)), ctx), h);
  return add(feedForward(w.child('ff'), layerNorm(w.child('norm3'), h, 1e-5)), h);
}

export function transformer2D(w: WeightScope, x: Value, ehs: Value, plan: AttentionPlan, ctx: AttentionContext, o: Transformer2DOptions): Value {
  const [c, hgt, wid] = [staticDim(x, 1), staticDim(x, 2), staticDim(x, 3)];
  const ctxHere: AttentionContext = { ...ctx, heads: o.heads };
  const normed = groupNorm(w.child('norm'), x, { groups: o.groups, eps: 1e-6 });
  const toTokens = (v: Value) => reshape(transpose(v, [0, 2, 3, 1]), [0, hgt * wid, c]);
  const toImage = (v: Value) => transpose(reshape(v, [0, hgt, wid, c]), [0, 3, 1, 2]);
  let h = o.useLinearProjection
    ? linear(w.child('proj_in'), toTokens(normed), c)
    : toTokens(conv2d(w.child('proj_in'), normed, { outChannels: c, kernel: 1 }));
  for (let i = 0; i < o.layers; i++) h = basicTransformerBlock(w.child('transformer_blocks').child(i), h, ehs, plan, ctxHere);
  const out = o.useLinearProjection
    ? toImage(linear(w.child('proj_out'), h, c))
    : conv2d(w.child('proj_out'), toImage(h), { outChannels: c, kernel: 1 });
  return add(out, x);
}
