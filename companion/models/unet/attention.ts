/**
 * The UNet's attention processors (diffusers' Attention module + the behaviour our AttentionPlan gives a layer):
 *   self  — attn1; with teacher sharing, Q and K are gathered by the per-row teacher index so a student row computes
 *           Attention(Q_teacher, K_teacher, V_own) = P_teacher · V_own (StyleStudio's map copy) with a fused kernel;
 *           the identity index is plain attention;
 *   text  — attn2 over the text tokens only (style tokens, if present, are split off and ignored);
 *   style — attn2 with the adapter branch s = Attn(Q, K_ip, V_ip) (IP-Adapter's decoupled cross-attention),
 *           combined as h = (1−α)(c + scale·s) + α·AdaIN(c, s), teacher rows h = c (METHOD.md §1, §3).
 * The combination happens after merging heads and before to_out (as the official processors do).
 */
import type { Value } from '../../onnx/graph';
import { GraphBuildError } from '../../onnx/graph';
import { add, cast, div, expand, gather, mul, reduceMean, slice, sqrt, staticDim, sub } from '../../onnx/ops/basic';
import { attention, linear, linearRef } from '../../onnx/ops/nn';
import type { TensorRef, WeightScope } from '../../weights/tensor';
import type { AttentionKind } from './attention-plan';

/** Small per-run graph inputs that choose the style behaviour without rebuilding the graph. */
export interface StyleControls {
  /** IP-Adapter scale, float [1]. */
  readonly ipScale: Value;
  /** AdaIN blend α, float [1]: 0 = weighted sum, 1 = cross-modal AdaIN (the paper). */
  readonly adainStrength: Value;
  /** float [B, 1, 1]: 1 for teacher rows (text-only in every style layer), 0 otherwise. */
  readonly teacherMask: Value;
  /**
   * Several references: float [B, 1, 1, styleTokens], added to the style branch's attention logits per row — ln w for
   * a reference of weight w (w copies of its tokens), a large negative for an unused slot. Absent with one reference.
   */
  readonly tokenBias?: Value;
}

/** The adapter's key/value projections of one style layer ([channels, cross_dim], torch layout). */
export interface StyleLayerWeights {
  readonly toK: TensorRef;
  readonly toV: TensorRef;
}

export interface AttentionContext {
  readonly heads: number;
  /** Path of the UNet's own scope in the checkpoint ('' when its keys are at the root). */
  readonly unetRoot: string;
  /** int64 [B]: the row whose queries/keys each row uses in attn1 (present when the plan shares). */
  readonly teacherIndex?: Value;
  readonly style?: StyleControls;
  /** Number of text tokens at the front of encoder_hidden_states. */
  readonly textTokens: number;
  /**
   * Lower bound on AdaIN's variances [ours, METHOD.md §1]: std = sqrt(max(var, floor)). The official code has no
   * guard; a floor (not an added epsilon) keeps every well-defined case identical to it and turns the undefined
   * zero-variance case (e.g. all-zero text features) into a finite result instead of NaN.
   */
  readonly adainVarianceFloor: number;
  /** The style weights of the layer being built (style layers only). */
  readonly styleWeights?: (path: string) => StyleLayerWeights;
}

/** A layer's module path relative to the UNet (what the AttentionPlan and the adapter numbering use). */
export function modulePath(w: WeightScope, ctx: AttentionContext): string {
  if (ctx.unetRoot === '') return w.path;
  if (!w.path.startsWith(`${ctx.unetRoot}.`)) throw new GraphBuildError(`${w.path} is outside the UNet scope ${ctx.unetRoot}`);
  return w.path.slice(ctx.unetRoot.length + 1);
}

export function selfAttention(w: WeightScope, x: Value, kind: AttentionKind & { kind: 'self' }, ctx: AttentionContext): Value {
  const c = staticDim(x, -1);
  let q = linear(w.child('to_q'), x, c, { bias: false });
  let k = linear(w.child('to_k'), x, c, { bias: false });
  const v = linear(w.child('to_v'), x, c, { bias: false });
  if (kind.teacherShare) {
    if (!ctx.teacherIndex) throw new GraphBuildError(`${w.path}: teacher sharing planned but no teacher index input`);
    const index = ctx.teacherIndex;
    [q, k] = x.graph.at(w.path, () => [gather(q, index, 0), gather(k, index, 0)]);
  }
  const h = x.graph.at(w.path, () => attention(q, k, v, { heads: ctx.heads }));
  return linear(w.child('to_out').child(0), h, c);
}

export function crossAttention(w: WeightScope, x: Value, ehs: Value, kind: AttentionKind, ctx: AttentionContext): Value {
  const g = x.graph;
  const c = staticDim(x, -1);
  const tokens = staticDim(ehs, 1);
  const crossDim = staticDim(ehs, -1);
  const styleTokens = tokens - ctx.textTokens;
  if (styleTokens < 0) throw new GraphBuildError(`${w.path}: encoder_hidden_states has ${tokens} tokens, fewer than ${ctx.textTokens} text tokens`);
  const text = styleTokens === 0 ? ehs : g.at(w.path, () => slice(ehs, [0], [ctx.textTokens], [1]));
  const q = linear(w.child('to_q'), x, c, { bias: false });
  const k = linear(w.child('to_k'), text, c, { bias: false });
  const v = linear(w.child('to_v'), text, c, { bias: false });
  const content = g.at(w.path, () => attention(q, k, v, { heads: ctx.heads }));
  let h = content;
  if (kind.kind === 'style') {
    if (kind.tokens !== styleTokens) {
      throw new GraphBuildError(`${w.path}: planned ${kind.tokens} style tokens but encoder_hidden_states carries ${styleTokens}`);
    }
    if (!ctx.style || !ctx.styleWeights) throw new GraphBuildError(`${w.path}: style layer without style inputs or adapter weights`);
    const weights = ctx.styleWeights(modulePath(w, ctx));
    for (const [name, ref] of [['to_k_ip', weights.toK], ['to_v_ip', weights.toV]] as const) {
      if (ref.shape.length !== 2 || ref.shape[0] !== c || ref.shape[1] !== crossDim) {
        throw new GraphBuildError(`${w.path}.${name}: adapter weight ${ref.key} (${ref.file}) has shape [${ref.shape.join(', ')}], the layer needs [${c}, ${crossDim}]`);
      }
    }
    const style = ctx.style;
    h = g.at(w.path, () => {
      const ip = slice(ehs, [ctx.textTokens], [tokens], [1]);
      // MultiHeadAttention takes its bias as [B|1, H|1, Sq, Sk]: the per-row token bias is expanded over the queries
      const bias = style.tokenBias === undefined ? undefined : expand(style.tokenBias, [1, 1, staticDim(q, 1), styleTokens]);
      const s = attention(q, linearRef(ip, weights.toK), linearRef(ip, weights.toV), { heads: ctx.heads, ...(bias ? { bias } : {}) });
      const weighted = add(content, mul(s, cast(style.ipScale, s.dtype)));
      const ada = g.cast(adain(cast(content, 'float32'), cast(s, 'float32'), ctx.adainVarianceFloor), content.dtype);
      const blended = add(weighted, mul(sub(ada, weighted), cast(style.adainStrength, content.dtype)));
      // teacher rows: h = c  ⇔  h + m·(c − h) with m ∈ {0, 1}
      return add(blended, mul(sub(content, blended), cast(style.teacherMask, content.dtype)));
    });
  }
  return linear(w.child('to_out').child(0), h, c);
}

/**
 * Cross-modal AdaIN over [B, N, C] (fp32): per row and channel, statistics over the token axis N, unbiased std
 * (torch.std), plus `eps` on the variance [ours]: (c − μc)/σc · σs + μs.
 */
/**
 * Default AdaIN variance floor: far below any variance a real attention output has (SDXL's are ~1e-3..1), so it
 * only ever acts on the degenerate zero-variance case.
 */
export const ADAIN_VARIANCE_FLOOR = 1e-10;

export function adain(content: Value, style: Value, varianceFloor: number): Value {
  const n = staticDim(content, 1);
  if (n < 2) throw new GraphBuildError(`AdaIN needs at least 2 tokens, got ${n}`);
  const unbiased = n / (n - 1);
  const stats = (x: Value) => {
    const mean = reduceMean(x, [1]);
    const d = sub(x, mean);
    const variance = mul(reduceMean(mul(d, d), [1]), unbiased);
    const std = sqrt(varianceFloor > 0 ? x.graph.op('Max', [variance, x.graph.scalar(varianceFloor, 'float32')]) : variance);
    return { mean, d, std };
  };
  const cs = stats(content);
  const ss = stats(style);
  return add(mul(div(cs.d, cs.std), ss.std), ss.mean);
}
