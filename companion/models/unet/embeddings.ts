/**
 * diffusers models/embeddings.py: Timesteps (sinusoidal projection), TimestepEmbedding (MLP), and the SDXL
 * "text_time" added embedding built from them.
 */
import type { Value } from '../../onnx/graph';
import { GraphBuildError } from '../../onnx/graph';
import { cast, concat, cos, mul, reshape, sin, staticDim, unsqueeze } from '../../onnx/ops/basic';
import { linear, silu } from '../../onnx/ops/nn';
import type { WeightScope } from '../../weights/tensor';

export interface TimestepsOptions {
  readonly channels: number;
  readonly flipSinToCos: boolean;
  readonly downscaleFreqShift: number;
}

/**
 * Frequencies of get_timestep_embedding, rounded the way torch computes them in float32:
 * exp((-ln(10000) · i) / (half − shift)).
 */
export function timestepFrequencies(o: TimestepsOptions): Float32Array {
  if (o.channels % 2 !== 0) throw new GraphBuildError(`Timesteps: odd embedding width ${o.channels} is not supported`);
  const half = o.channels / 2;
  const f = Math.fround;
  const lnMax = f(-Math.log(10000));
  const denom = f(half - o.downscaleFreqShift);
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) out[i] = f(Math.exp(f(f(lnMax * i) / denom)));
  return out;
}

/**
 * Timesteps: t [...] → [..., channels] = [sin, cos] (or [cos, sin] with flip_sin_to_cos). Always float32.
 * Elementwise per timestep, so t may have any leading shape (a symbolic batch included).
 */
export function timesteps(t: Value, o: TimestepsOptions): Value {
  const g = t.graph;
  const freqs = timestepFrequencies(o);
  const half = freqs.length;
  const args = mul(unsqueeze(cast(t, 'float32'), [-1]), g.constant('float32', [1, half], freqs));
  const parts = o.flipSinToCos ? [cos(args), sin(args)] : [sin(args), cos(args)];
  return concat(parts, -1);
}

/** TimestepEmbedding: linear_1 → SiLU → linear_2. */
export function timestepEmbedding(w: WeightScope, x: Value, outDim: number): Value {
  const h = linear(w.child('linear_1'), x, outDim);
  return linear(w.child('linear_2'), silu(h), outDim);
}

export interface TextTimeOptions {
  readonly addTimeEmbedDim: number;
  readonly projectionInputDim: number;
  readonly timeEmbedDim: number;
  readonly flipSinToCos: boolean;
  readonly freqShift: number;
}

/**
 * SDXL added embedding (unet_2d_condition.py get_aug_embed, "text_time"): time_ids [B, 6] → add_time_proj per id,
 * flattened, concatenated after text_embeds [B, P], then add_embedding (a TimestepEmbedding).
 */
export function textTimeEmbedding(w: WeightScope, textEmbeds: Value, timeIds: Value, o: TextTimeOptions): Value {
  const g = textEmbeds.graph;
  const ids = staticDim(timeIds, 1);
  const pooled = staticDim(textEmbeds, 1);
  if (pooled + ids * o.addTimeEmbedDim !== o.projectionInputDim) {
    throw new GraphBuildError(`add_embedding: text_embeds width ${pooled} + ${ids} time ids × ${o.addTimeEmbedDim} ≠ projection_class_embeddings_input_dim ${o.projectionInputDim}`);
  }
  // [B, ids] → [B, ids, dim] → [B, ids · dim]: the same numbers as diffusers' flatten → proj → reshape
  const proj = g.at('add_time_proj', () => timesteps(timeIds, {
    channels: o.addTimeEmbedDim, flipSinToCos: o.flipSinToCos, downscaleFreqShift: o.freqShift,
  }));
  const timeEmbeds = reshape(proj, [0, ids * o.addTimeEmbedDim]);
  const addEmbeds = g.cast(concat([cast(textEmbeds, 'float32'), timeEmbeds], -1), g.computeType);
  return timestepEmbedding(w.child('add_embedding'), addEmbeds, o.timeEmbedDim);
}

