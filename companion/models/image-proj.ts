/**
 * Image projections of the style adapters, turning CLIP features into style tokens [B, T, cross_dim]:
 *   linear    — IP-Adapter ImageProjModel: LayerNorm(Linear(image_embeds).reshape(B, T, cross))
 *   resampler — IP-Adapter Plus / CSGO Resampler (perceiver): learned latents attend to [features ; latents]
 *               through `depth` PerceiverAttention + FeedForward(GELU, ×4, no bias) layers, then proj_out + norm_out.
 * Unconditional tokens are the projection of ZERO features (METHOD.md §0): run the same graph on zeros.
 */
import { type Graph, GraphBuildError, type Value } from '../onnx/graph';
import { add, concat, expand, reshape, slice, staticDim } from '../onnx/ops/basic';
import { attention, gelu, layerNorm, linear } from '../onnx/ops/nn';
import type { WeightScope } from '../weights/tensor';
import type { ImageProjectionSpec, StyleAdapter } from './adapter';
import { type ClipVisionConfig, clipVision } from './clip-vision';

export function imageProjection(x: Value, spec: ImageProjectionSpec): Value {
  switch (spec.kind) {
    case 'linear': return linearProjection(spec.scope, x, spec.tokens, spec.crossDim);
    case 'resampler': return resampler(spec.scope, x, spec);
    default: {
      const never: never = spec;
      throw new GraphBuildError(`unknown image projection ${JSON.stringify(never)}`);
    }
  }
}

/** image_embeds [B, D] → [B, T, cross]. */
export function linearProjection(w: WeightScope, x: Value, tokens: number, crossDim: number): Value {
  if (x.rank !== 2) throw new GraphBuildError(`${w.path}: expects image_embeds [B, D], got ${x}`);
  const y = reshape(linear(w.child('proj'), x, tokens * crossDim), [staticDim(x, 0), tokens, crossDim]);
  return layerNorm(w.child('norm'), y, 1e-5);
}

export interface ResamplerOptions {
  readonly tokens: number;
  readonly dim: number;
  readonly depth: number;
  readonly heads: number;
  readonly dimHead: number;
  readonly crossDim: number;
}

/** features [B, S, D_in] → [B, tokens, cross]. */
export function resampler(w: WeightScope, x: Value, o: ResamplerOptions): Value {
  const g = x.graph;
  if (x.rank !== 3) throw new GraphBuildError(`${w.path}: expects hidden states [B, S, D], got ${x}`);
  const b = staticDim(x, 0);
  const inner = o.heads * o.dimHead;
  const latentsRef = w.tensor('latents', [1, o.tokens, o.dim]);
  let latents = g.at(w.path, () => expand(g.param(latentsRef), [b, o.tokens, o.dim]));
  const feats = linear(w.child('proj_in'), x, o.dim);
  for (let i = 0; i < o.depth; i++) {
    const layer = w.child('layers').child(i);
    const attn = layer.child(0);
    const ff = layer.child(1);
    const xs = layerNorm(attn.child('norm1'), feats, 1e-5);
    const ls = layerNorm(attn.child('norm2'), latents, 1e-5);
    const q = linear(attn.child('to_q'), ls, inner, { bias: false });
    const kvIn = g.at(attn.path, () => concat([xs, ls], 1));
    const kv = linear(attn.child('to_kv'), kvIn, 2 * inner, { bias: false });
    const [k, v] = g.at(attn.path, () => g.opN('Split', [kv, g.ints([inner, inner])], { axis: -1 }, { outputs: 2 }));
    const out = g.at(attn.path, () => attention(q, k!, v!, { heads: o.heads }));
    latents = add(linear(attn.child('to_out'), out, o.dim, { bias: false }), latents);
    const h = layerNorm(ff.child(0), latents, 1e-5);
    const up = linear(ff.child(1), h, 4 * o.dim, { bias: false });
    latents = add(linear(ff.child(3), g.at(ff.path, () => gelu(up)), o.dim, { bias: false }), latents);
  }
  return layerNorm(w.child('norm_out'), linear(w.child('proj_out'), latents, o.crossDim), 1e-5);
}

/** A standalone projection graph: input `features`, output `style_tokens`. */
export function buildImageProjection(g: Graph, spec: ImageProjectionSpec, batch: number, sequence?: number): void {
  const x = spec.kind === 'linear'
    ? g.input('features', g.computeType, [batch, spec.inputDim])
    : g.input('features', g.computeType, [batch, requireSeq(sequence), spec.inputDim]);
  g.output('style_tokens', imageProjection(x, spec));
}

function requireSeq(s: number | undefined): number {
  if (s === undefined) throw new GraphBuildError('a Resampler projection needs the feature sequence length');
  return s;
}

/**
 * The whole image side in one graph: CLIP vision on `pixel_values` [N, 3, S, S] (style image, negative style image …)
 * → the adapter's features → its projection. Outputs `style_tokens` [N, T, cross] and `uncond_tokens` [1, T, cross].
 * Unconditional tokens: 'zero-features' = proj(zeros) (METHOD.md §0, the official StyleStudio / IP-Adapter code);
 * 'zero-pixels' = proj(CLIP(black image)), what diffusers' prepare_ip_adapter_image_embeds does for Plus adapters.
 */
export interface StyleEncoderOptions {
  readonly images: number;
  readonly uncond: 'zero-features' | 'zero-pixels';
}

export function buildStyleEncoder(g: Graph, vision: WeightScope, visionConfig: ClipVisionConfig, adapter: StyleAdapter, o: StyleEncoderOptions): void {
  const c = visionConfig;
  const n = o.images;
  const pixels = g.input('pixel_values', g.computeType, [n, c.num_channels, c.image_size, c.image_size]);
  const withBlack = o.uncond === 'zero-pixels'
    ? concat([pixels, g.constant(g.computeType, [1, c.num_channels, c.image_size, c.image_size], new Float32Array(c.num_channels * c.image_size * c.image_size))], 0)
    : pixels;
  const enc = clipVision(vision, withBlack, c);
  let feats = adapter.features === 'image_embeds' ? enc.imageEmbeds : enc.penultimate;
  if (o.uncond === 'zero-features') {
    const shape = feats.shape.map((d, i) => (i === 0 ? 1 : d)) as number[];
    feats = concat([feats, g.constant(feats.dtype, shape, new Float32Array(shape.reduce((a, b) => a * b, 1)))], 0);
  }
  if (adapter.imageProjection.inputDim !== staticDim(feats, -1)) {
    throw new GraphBuildError(`${adapter.file}: the projection takes ${adapter.imageProjection.inputDim}-wide features, the image encoder gives ${staticDim(feats, -1)} (${adapter.features})`);
  }
  const tokens = imageProjection(feats, adapter.imageProjection);
  g.output('style_tokens', g.at('image_proj', () => slice(tokens, [0], [n], [0])));
  g.output('uncond_tokens', g.at('image_proj', () => slice(tokens, [n], [n + 1], [0])));
}
