/**
 * transformers CLIPVisionModelWithProjection as one graph (modeling_clip.py): patch + class + position embeddings,
 * pre_layrnorm (sic, the checkpoint's spelling), pre-LN encoder layers, post_layernorm on the class token,
 * visual_projection. Outputs the two features the style adapters read:
 *   image_embeds [B, projection_dim]                 (IP-Adapter linear projection)
 *   penultimate_hidden_states [B, 1 + P², hidden]    (hidden_states[-2]: IP-Adapter Plus, CSGO Resampler)
 */
import { z } from 'zod';
import { type Graph, GraphBuildError, type Value } from '../onnx/graph';
import { add, concat, expand, reshape, slice, squeeze, staticDim, transpose } from '../onnx/ops/basic';
import { activation, attention, layerNorm, linear } from '../onnx/ops/nn';
import type { WeightScope } from '../weights/tensor';

export const ClipVisionConfigSchema = z.looseObject({
  hidden_size: z.number().int().positive(),
  intermediate_size: z.number().int().positive(),
  num_hidden_layers: z.number().int().min(2),
  num_attention_heads: z.number().int().positive(),
  image_size: z.number().int().positive(),
  patch_size: z.number().int().positive(),
  projection_dim: z.number().int().positive(),
  num_channels: z.number().int().positive().default(3),
  hidden_act: z.enum(['gelu', 'quick_gelu']).default('quick_gelu'),
  layer_norm_eps: z.number().positive().default(1e-5),
}).superRefine((c, ctx) => {
  if (c.hidden_size % c.num_attention_heads !== 0) ctx.addIssue({ code: 'custom', path: ['num_attention_heads'], message: `hidden_size ${c.hidden_size} does not split into ${c.num_attention_heads} heads` });
  if (c.image_size % c.patch_size !== 0) ctx.addIssue({ code: 'custom', path: ['patch_size'], message: `image_size ${c.image_size} is not a multiple of patch_size ${c.patch_size}` });
});
export type ClipVisionConfig = z.infer<typeof ClipVisionConfigSchema>;

export function parseClipVisionConfig(raw: unknown, source = 'image_encoder/config.json'): ClipVisionConfig {
  // h94's image encoders keep a full CLIPConfig-free vision config; a CLIPConfig would nest it under vision_config.
  const r = ClipVisionConfigSchema.safeParse(raw);
  if (!r.success) {
    throw new GraphBuildError(`${source}: unsupported or invalid CLIPVisionModelWithProjection config:\n${r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}`);
  }
  return r.data;
}

function encoderLayer(w: WeightScope, x: Value, c: ClipVisionConfig): Value {
  const d = c.hidden_size;
  const h = layerNorm(w.child('layer_norm1'), x, c.layer_norm_eps);
  const a = w.child('self_attn');
  const q = linear(a.child('q_proj'), h, d);
  const k = linear(a.child('k_proj'), h, d);
  const v = linear(a.child('v_proj'), h, d);
  const attn = linear(a.child('out_proj'), x.graph.at(a.path, () => attention(q, k, v, { heads: c.num_attention_heads })), d);
  const r = add(x, attn);
  const m = w.child('mlp');
  const up = linear(m.child('fc1'), layerNorm(w.child('layer_norm2'), r, c.layer_norm_eps), c.intermediate_size);
  return add(r, linear(m.child('fc2'), x.graph.at(m.path, () => activation(up, c.hidden_act)), d));
}

export interface ClipVisionOutputs {
  readonly imageEmbeds: Value;
  readonly penultimate: Value;
}

/** The encoder over `pixels` [B, C, S, S]; `w` is the model root (keys vision_model.*, visual_projection.*). */
export function clipVision(w: WeightScope, pixels: Value, c: ClipVisionConfig): ClipVisionOutputs {
  const g = pixels.graph;
  const batch = staticDim(pixels, 0);
  const vm = w.child('vision_model');
  const emb = vm.child('embeddings');
  const d = c.hidden_size;
  const grid = c.image_size / c.patch_size;
  const positions = grid * grid + 1;
  const patchW = g.param(emb.child('patch_embedding').tensor('weight', [d, c.num_channels, c.patch_size, c.patch_size]));
  const classRef = emb.tensor('class_embedding', [d]);
  const posRef = emb.child('position_embedding').tensor('weight', [positions, d]);
  let h = g.at(emb.path, () => {
    const patches = g.op('Conv', [pixels, patchW], { kernel_shape: [c.patch_size, c.patch_size], strides: [c.patch_size, c.patch_size] });
    const tokens = transpose(reshape(patches, [batch, d, grid * grid]), [0, 2, 1]);
    const cls = expand(reshape(g.param(classRef), [1, 1, d]), [batch, 1, d]);
    return add(concat([cls, tokens], 1), reshape(g.param(posRef), [1, positions, d]));
  });
  h = layerNorm(vm.child('pre_layrnorm'), h, c.layer_norm_eps);
  const layers = vm.child('encoder').child('layers');
  let penultimate: Value | undefined;
  for (let i = 0; i < c.num_hidden_layers; i++) {
    h = encoderLayer(layers.child(i), h, c);
    if (i === c.num_hidden_layers - 2) penultimate = h;
  }
  const pooled = layerNorm(vm.child('post_layernorm'), g.at(vm.path, () => squeeze(slice(h, [0], [1], [1]), [1])), c.layer_norm_eps);
  return { imageEmbeds: linear(w.child('visual_projection'), pooled, c.projection_dim, { bias: false }), penultimate: penultimate! };
}

/** Graph with input pixel_values [B, C, S, S]; outputs image_embeds and penultimate_hidden_states. */
export function buildClipVision(g: Graph, w: WeightScope, c: ClipVisionConfig, o: { batch: number }): void {
  const pixels = g.input('pixel_values', g.computeType, [o.batch, c.num_channels, c.image_size, c.image_size]);
  const out = clipVision(w, pixels, c);
  g.output('penultimate_hidden_states', out.penultimate);
  g.output('image_embeds', out.imageEmbeds);
}
