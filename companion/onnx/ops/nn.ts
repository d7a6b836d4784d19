/**
 * Neural-network building blocks mirroring torch modules, lowered per Graph.lowering: a com.microsoft kernel only
 * where the lowering may emit it (lowering.ts usesContrib), else its plain-ONNX form.
 * Helpers that take a WeightScope name their nodes after its path ("…attn1.to_q/FusedMatMul"), read weights
 * with the torch layout and check every shape against the activation at build time.
 */
import type { TensorRef, WeightScope } from '../../weights/tensor';
import { type ElemType, type Value, GraphBuildError, shapeToString } from '../graph';
import { add, cast, div, erf, mul, reduceMean, reshape, sigmoid, softmax, split, sqrt, staticDim, sub, tanh, transpose } from './basic';
import { attentionKernel, usesContrib } from '../lowering';

const MS = { domain: 'com.microsoft' } as const;

/** float dtype minimum, used for additive masks (transformers uses torch.finfo(dtype).min). */
export function finfoMin(dtype: ElemType): number {
  if (dtype === 'float16') return -65504;
  if (dtype === 'float32') return -3.4028234663852886e38;
  throw new GraphBuildError(`no float minimum for ${dtype}`);
}

// ── linear ───────────────────────────────────────────────────────────────────────────────────────────────

/**
 * y = x·Wᵀ + b with torch's [out, in] weight kept external: com.microsoft.FusedMatMul(transB=1) where the lowering
 * has it (a Transpose of W is constant-folded into a copy); otherwise MatMul(x, Transpose(W)), folded once at session
 * creation (GPU providers copy weights to device memory anyway). Fails at build time when W's in-dim ≠ x's last
 * dim, naming the key.
 */
export function linearRef(x: Value, weight: TensorRef, bias?: TensorRef): Value {
  const g = x.graph;
  const inDim = staticDim(x, -1);
  if (weight.shape.length !== 2 || weight.shape[1] !== inDim) {
    throw new GraphBuildError(`linear ${weight.key}: weight ${shapeToString(weight.shape)} ([out, in]) does not take activation ${x} (in-dim ${inDim})`);
  }
  const outDim = weight.shape[0]!;
  const w = g.param(weight);
  let y = usesContrib(g.lowering, 'FusedMatMul')
    ? g.op('FusedMatMul', [x, w], { transB: 1, alpha: { f: 1 } }, { ...MS, label: 'FusedMatMul' })
    : g.op('MatMul', [x, transpose(w, [1, 0])]);
  if (bias) {
    if (bias.shape.length !== 1 || bias.shape[0] !== outDim) {
      throw new GraphBuildError(`linear ${bias.key}: bias ${shapeToString(bias.shape)} does not match ${outDim} outputs of ${weight.key}`);
    }
    y = add(y, g.param(bias));
  }
  return y;
}

export interface LinearOptions {
  /** Default true; false for bias-free projections (e.g. to_q, text_projection). */
  readonly bias?: boolean;
}

/** torch.nn.Linear at scope `w` (keys `weight` [out, in] and `bias` [out]). */
export function linear(w: WeightScope, x: Value, outFeatures: number, options: LinearOptions = {}): Value {
  const inDim = staticDim(x, -1);
  const weight = w.tensor('weight', [outFeatures, inDim]);
  const bias = options.bias === false ? undefined : w.tensor('bias', [outFeatures]);
  return x.graph.at(w.path, () => linearRef(x, weight, bias));
}

// ── conv ─────────────────────────────────────────────────────────────────────────────────────────────────

export interface Conv2dOptions {
  readonly outChannels: number;
  readonly kernel: number;
  readonly stride?: number;
  readonly padding?: number;
  readonly groups?: number;
  readonly bias?: boolean;
}

/** torch.nn.Conv2d on NCHW input; weight [out, in/groups, k, k] is already ONNX's layout. */
export function conv2d(w: WeightScope, x: Value, o: Conv2dOptions): Value {
  const g = x.graph;
  const groups = o.groups ?? 1;
  const inChannels = staticDim(x, 1);
  if (inChannels % groups !== 0) throw new GraphBuildError(`${w.path}: ${inChannels} input channels not divisible by groups ${groups}`);
  const weight = g.param(w.tensor('weight', [o.outChannels, inChannels / groups, o.kernel, o.kernel]));
  const bias = o.bias === false ? null : g.param(w.tensor('bias', [o.outChannels]));
  const p = o.padding ?? 0;
  const s = o.stride ?? 1;
  return g.at(w.path, () =>
    g.op('Conv', [x, weight, bias], { kernel_shape: [o.kernel, o.kernel], pads: [p, p, p, p], strides: [s, s], group: groups }),
  );
}

// ── normalisation ────────────────────────────────────────────────────────────────────────────────────────

/**
 * (x − mean) / sqrt(var + eps) over `axes` in fp32 from elementwise ops and ReduceMean, variance from the centred
 * values (two passes): the 'two-pass-fp32' norm statistics of lowering.ts. Returns fp32.
 */
function normalise32(x: Value, axes: readonly number[], eps: number): Value {
  const x32 = cast(x, 'float32');
  const d = sub(x32, reduceMean(x32, axes));
  const variance = reduceMean(mul(d, d), axes);
  return div(d, sqrt(add(variance, x.graph.scalar(eps, 'float32'))));
}

/**
 * torch.nn.LayerNorm over the last dim (LayerNormalization-17 computes its statistics in fp32: stash_type 1).
 * 'two-pass-fp32' norm statistics: cast up, normalise with elementwise ops in fp32, affine in fp32, cast back.
 */
export function layerNorm(w: WeightScope, x: Value, eps: number): Value {
  const g = x.graph;
  const c = staticDim(x, -1);
  const scaleRef = w.tensor('weight', [c]);
  const biasRef = w.tensor('bias', [c]);
  if (g.lowering.normStats === 'two-pass-fp32') {
    const scale = g.param(scaleRef, undefined, 'float32');
    const bias = g.param(biasRef, undefined, 'float32');
    return g.at(w.path, () => cast(add(mul(normalise32(x, [-1], eps), scale), bias), x.dtype));
  }
  const scale = g.param(scaleRef);
  const bias = g.param(biasRef);
  return g.at(w.path, () => g.op('LayerNormalization', [x, scale, bias], { axis: -1, epsilon: { f: eps } }));
}

export interface GroupNormOptions {
  readonly groups: number;
  readonly eps: number;
  /** Apply SiLU after the norm (fused into com.microsoft.GroupNorm where available). */
  readonly silu?: boolean;
}

/**
 * torch.nn.GroupNorm (affine) on NCHW input.
 * portable: Reshape [N, G, -1] → InstanceNormalization (or two-pass fp32 ops, lowering.normStats) → Reshape back →
 *   per-channel affine; statistics in fp32.
 * contrib GroupNorm (where the lowering has it): NCHW→NHWC Transpose, com.microsoft.GroupNorm(channels_last=1, activation), Transpose back (the contrib
 *   kernel exists only on CUDA/DirectML; a UNet that stays NHWC can drop the transposes).
 */
export function groupNorm(w: WeightScope, x: Value, o: GroupNormOptions): Value {
  const g = x.graph;
  if (x.rank !== 4) throw new GraphBuildError(`${w.path}: groupNorm expects NCHW input, got ${x}`);
  const c = staticDim(x, 1);
  if (c % o.groups !== 0) throw new GraphBuildError(`${w.path}: ${c} channels not divisible by ${o.groups} groups`);
  const gammaRef = w.tensor('weight', [c]);
  const betaRef = w.tensor('bias', [c]);
  return g.at(w.path, () => {
    if (usesContrib(g.lowering, 'GroupNorm')) {
      const nhwc = transpose(x, [0, 2, 3, 1]);
      const y = g.op('GroupNorm', [nhwc, g.param(gammaRef), g.param(betaRef)], {
        groups: o.groups, epsilon: { f: o.eps }, activation: o.silu ? 1 : 0, channels_last: 1,
      }, MS);
      return transpose(y, [0, 3, 1, 2]);
    }
    const h = staticDim(x, 2);
    const wd = staticDim(x, 3);
    const x32 = cast(x, 'float32');
    const grouped = reshape(x32, [0, o.groups, -1]);
    const ones = g.constant('float32', [o.groups], new Array<number>(o.groups).fill(1));
    const zeros = g.constant('float32', [o.groups], new Array<number>(o.groups).fill(0));
    const normed = g.lowering.normStats === 'two-pass-fp32'
      ? normalise32(grouped, [2], o.eps)
      : g.op('InstanceNormalization', [grouped, ones, zeros], { epsilon: { f: o.eps } });
    const back = cast(reshape(normed, [0, c, h, wd]), x.dtype);
    const gamma = reshape(g.param(gammaRef), [c, 1, 1]);
    const beta = reshape(g.param(betaRef), [c, 1, 1]);
    const y = add(mul(back, gamma), beta);
    return o.silu ? silu(y) : y;
  });
}

// ── activations ──────────────────────────────────────────────────────────────────────────────────────────

export type Activation = 'gelu' | 'gelu_tanh' | 'quick_gelu' | 'silu';

export function silu(x: Value): Value {
  return mul(x, sigmoid(x));
}

/** Exact (erf) GELU, torch.nn.functional.gelu. */
export function gelu(x: Value): Value {
  if (usesContrib(x.graph.lowering, 'Gelu')) return x.graph.op('Gelu', [x], {}, MS);
  return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
}

/** tanh-approximated GELU (transformers "gelu_new"/"gelu_pytorch_tanh"). */
export function geluTanh(x: Value): Value {
  const inner = mul(add(x, mul(mul(mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return mul(mul(x, 0.5), add(tanh(inner), 1));
}

/** x·sigmoid(1.702x) — CLIP's quick_gelu. */
export function quickGelu(x: Value): Value {
  if (usesContrib(x.graph.lowering, 'QuickGelu')) return x.graph.op('QuickGelu', [x], { alpha: { f: 1.702 } }, MS);
  return mul(x, sigmoid(mul(x, 1.702)));
}

export function activation(x: Value, kind: Activation): Value {
  switch (kind) {
    case 'gelu': return gelu(x);
    case 'gelu_tanh': return geluTanh(x);
    case 'quick_gelu': return quickGelu(x);
    case 'silu': return silu(x);
    default: {
      const never: never = kind;
      throw new GraphBuildError(`unknown activation ${String(never)}`);
    }
  }
}

// ── attention ────────────────────────────────────────────────────────────────────────────────────────────

export interface AttentionOptions {
  readonly heads: number;
  /** Additive bias broadcastable to [B, heads, Sq, Sk] and of rank 4 (e.g. a causal mask [1, 1, S, S]). */
  readonly bias?: Value;
  /** Default 1/sqrt(head_dim). */
  readonly scale?: number;
}

/**
 * Scaled dot-product attention over [B, S, heads·D] projections (no N×N map kept by the fused kernel).
 * 'matmul' kernel: per-head MatMul/Softmax (softmax in fp32 when computing in fp16);
 * 'mha' kernel: com.microsoft.MultiHeadAttention (CPU, CUDA, DirectML, WebGPU run it). See Lowering.attention.
 * Lowering.attentionPrecision 'fp32' with fp16 activations: the kernel runs on fp32 casts, the result is cast back.
 */
export function attention(q: Value, k: Value, v: Value, o: AttentionOptions): Value {
  const g = q.graph;
  if (g.lowering.attentionPrecision === 'fp32' && q.dtype !== 'float32') {
    const bias = o.bias ? cast(o.bias, 'float32') : undefined;
    const out = attentionIn(cast(q, 'float32'), cast(k, 'float32'), cast(v, 'float32'), { ...o, ...(bias ? { bias } : {}) });
    return cast(out, q.dtype);
  }
  return attentionIn(q, k, v, o);
}

function attentionIn(q: Value, k: Value, v: Value, o: AttentionOptions): Value {
  const g = q.graph;
  const hidden = staticDim(q, -1);
  const vHidden = staticDim(v, -1);
  if (staticDim(k, -1) !== hidden) throw new GraphBuildError(`attention: query ${q} and key ${k} widths differ`);
  if (hidden % o.heads !== 0 || vHidden % o.heads !== 0) {
    throw new GraphBuildError(`attention: widths ${hidden}/${vHidden} not divisible by ${o.heads} heads`);
  }
  const headDim = hidden / o.heads;
  const scale = o.scale ?? 1 / Math.sqrt(headDim);
  if (o.bias && o.bias.rank !== 4) throw new GraphBuildError(`attention: bias ${o.bias} must have rank 4 [B|1, H|1, Sq, Sk]`);
  if (attentionKernel(g.lowering) === 'mha') {
    return g.op('MultiHeadAttention', [q, k, v, null, null, o.bias ?? null], { num_heads: o.heads, scale: { f: scale } }, MS);
  }
  const qh = transpose(reshape(q, [0, 0, o.heads, headDim]), [0, 2, 1, 3]);
  const kt = transpose(reshape(k, [0, 0, o.heads, headDim]), [0, 2, 3, 1]);
  const vh = transpose(reshape(v, [0, 0, o.heads, vHidden / o.heads]), [0, 2, 1, 3]);
  let scores = mul(g.op('MatMul', [qh, kt]), scale);
  if (o.bias) scores = add(scores, o.bias);
  const probs = cast(softmax(cast(scores, 'float32'), -1), q.dtype);
  const out = g.op('MatMul', [probs, vh]);
  return reshape(transpose(out, [0, 2, 1, 3]), [0, 0, vHidden]);
}

// ── feed-forward and resampling ──────────────────────────────────────────────────────────────────────────

/**
 * diffusers GEGLU (attention.py): proj = Linear(dim, 2·dimOut); hidden, gate = proj(x).chunk(2, -1);
 * hidden · gelu(gate). fused: com.microsoft.BiasSplitGelu on the bias-free product (CUDA/DML only, 3-D input).
 */
export function geglu(w: WeightScope, x: Value, dimOut: number): Value {
  const g = x.graph;
  const inDim = staticDim(x, -1);
  const weight = w.tensor('weight', [2 * dimOut, inDim]);
  const bias = w.tensor('bias', [2 * dimOut]);
  return g.at(w.path, () => {
    if (usesContrib(g.lowering, 'BiasSplitGelu') && x.rank === 3) {
      const product = linearRef(x, weight);
      return g.op('BiasSplitGelu', [product, g.param(bias)], {}, MS);
    }
    const [hidden, gate] = split(linearRef(x, weight, bias), [dimOut, dimOut], -1) as [Value, Value];
    return mul(hidden, gelu(gate));
  });
}

/** F.interpolate(x, scale_factor=factor, mode="nearest") on NCHW (Resize: asymmetric + floor, torch's nearest). */
export function upsampleNearest(x: Value, factor: number): Value {
  const g = x.graph;
  if (x.rank !== 4) throw new GraphBuildError(`upsampleNearest expects NCHW input, got ${x}`);
  const scales = g.constant('float32', [4], [1, 1, factor, factor]);
  return g.op('Resize', [x, null, scales], {
    mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor',
  });
}
