/**
 * How one model description becomes ONNX nodes for a given execution provider.
 * - portable: opset 17 plus only the com.microsoft ops the provider runs (CONTRIB_OPS): by default FusedMatMul for
 *   linear layers, MatMul/Softmax attention, InstanceNormalization-based GroupNorm, LayerNormalization.
 * - fused: also com.microsoft MultiHeadAttention, GroupNorm (NHWC), BiasSplitGelu, Gelu, QuickGelu — each only
 *   where the provider has it; where not, the portable form of that op is emitted instead.
 * precision: the compute dtype of activations and weights; statistics that METHOD.md wants in fp32 are cast
 * explicitly by the networks (Graph.cast), never implied here.
 * Lowerings are plain data (they cross worker boundaries with postMessage).
 */

export type ExecutionProvider = 'cpu' | 'cuda' | 'dml' | 'coreml' | 'webgpu';
export const EXECUTION_PROVIDERS: readonly ExecutionProvider[] = ['cpu', 'cuda', 'dml', 'coreml', 'webgpu'];

export type LoweringKind = 'portable' | 'fused';
export type Precision = 'fp32' | 'fp16';

/** The com.microsoft ops a lowering may emit. */
export type ContribOp = 'FusedMatMul' | 'MultiHeadAttention' | 'GroupNorm' | 'BiasSplitGelu' | 'Gelu' | 'QuickGelu' | 'SkipLayerNormalization';
export const CONTRIB_OPS_ALL: readonly ContribOp[] = ['FusedMatMul', 'MultiHeadAttention', 'GroupNorm', 'BiasSplitGelu', 'Gelu', 'QuickGelu', 'SkipLayerNormalization'];

/**
 * Which contrib ops each provider runs correctly in fp32 and fp16, graph wholly on that provider
 * (session.disable_cpu_ep_fallback=1), output checked against the plain-ONNX form on the CPU
 * (companion/onnx/capabilities.ts; test/webgpu/capabilities.test.ts re-measures cpu and webgpu in CI and fails
 * when this table is out of date). Measured with onnxruntime-node 1.30.0: cpu, webgpu (Mesa 25 lavapipe).
 * cuda, dml: from ORT's kernel registration tables (docs/OperatorKernels.md), NOT measured — no such machine yet.
 * coreml: none (contrib ops are not CoreML ops).
 */
export const CONTRIB_OPS: Readonly<Record<ExecutionProvider, readonly ContribOp[]>> = {
  cpu: ['FusedMatMul', 'MultiHeadAttention', 'Gelu', 'QuickGelu', 'SkipLayerNormalization'],
  webgpu: ['Gelu', 'QuickGelu', 'SkipLayerNormalization'],
  cuda: ['FusedMatMul', 'MultiHeadAttention', 'GroupNorm', 'BiasSplitGelu', 'Gelu', 'QuickGelu', 'SkipLayerNormalization'],
  dml: ['FusedMatMul', 'MultiHeadAttention', 'GroupNorm', 'BiasSplitGelu', 'Gelu', 'QuickGelu', 'SkipLayerNormalization'],
  coreml: [],
};
/** Providers whose CONTRIB_OPS row was measured here (the others come from kernel tables). */
export const CONTRIB_OPS_MEASURED: readonly ExecutionProvider[] = ['cpu', 'webgpu'];

export interface Lowering {
  readonly kind: LoweringKind;
  readonly precision: Precision;
  /**
   * Attention kernel: 'mha' = com.microsoft.MultiHeadAttention (never materialises the N×N map), 'matmul' =
   * per-head MatMul/Softmax (any EP). Default: 'mha' when the lowering may emit MultiHeadAttention and is fused,
   * else 'matmul'.
   */
  readonly attention?: 'mha' | 'matmul';
  /** The contrib ops this lowering may emit. Default by kind: portable [FusedMatMul], fused all of CONTRIB_OPS_ALL. */
  readonly contrib?: readonly ContribOp[];
  /**
   * How LayerNorm/GroupNorm statistics are computed. 'native': LayerNormalization / InstanceNormalization on the
   * activation as it is. 'two-pass-fp32': in fp32 from ReduceMean and elementwise ops, variance of the centred
   * values — for providers whose norm kernels are imprecise: WebGPU's use the one-pass E[x²]−E[x]² (error when
   * |mean| ≫ std) and differ by up to 6e-5 even on centred input (docs/GPU.md, test/webgpu/norm-repro.test.ts).
   * Default 'native'.
   */
  readonly normStats?: 'native' | 'two-pass-fp32';
  /**
   * fp16 attention: 'fp32' runs the attention kernel on fp32 casts of Q, K, V (scores and softmax in fp32) and
   * casts the result back; 'native' runs it in the compute dtype. Default 'native'.
   */
  readonly attentionPrecision?: 'native' | 'fp32';
  /**
   * false when the provider has no int64 Cast/Equal kernels (WebGPU in onnxruntime 1.30: measured, see
   * docs/GPU.md): index arithmetic then goes through float lookups. Default true.
   */
  readonly int64Ops?: boolean;
}

const DEFAULT_CONTRIB: Readonly<Record<LoweringKind, readonly ContribOp[]>> = {
  portable: ['FusedMatMul'],
  fused: CONTRIB_OPS_ALL,
};

/** True when lowering `l` may emit contrib op `op`. */
export function usesContrib(l: Lowering, op: ContribOp): boolean {
  return (l.contrib ?? DEFAULT_CONTRIB[l.kind]).includes(op);
}

/** The attention kernel a lowering uses (see Lowering.attention). */
export function attentionKernel(l: Lowering): 'mha' | 'matmul' {
  if (l.attention !== undefined) return l.attention;
  return l.kind === 'fused' && usesContrib(l, 'MultiHeadAttention') ? 'mha' : 'matmul';
}

export const PORTABLE_FP32: Lowering = { kind: 'portable', precision: 'fp32' };

export interface LoweringChoice {
  readonly precision?: Precision;
  readonly kind?: LoweringKind;
}

/** `wanted` restricted to what `provider` runs (CONTRIB_OPS). */
function available(provider: ExecutionProvider, wanted: readonly ContribOp[]): ContribOp[] {
  return wanted.filter((op) => CONTRIB_OPS[provider].includes(op));
}

/**
 * The lowering for `provider` (the default kind and precision unless chosen): a lowering only ever emits contrib
 * ops its provider runs (CONTRIB_OPS), and among those the fused kernels (fewer passes over memory).
 * - cpu: portable fp32 (no fp16 MatMul kernels on x64: ORT inserts casts) with FusedMatMul and the contrib
 *   MultiHeadAttention, which never materialises the N×N map (at 1024² SDXL's 4096-token self-attention map alone is
 *   ~1 GiB a batch of 4).
 * - cuda, dml: fused fp16.
 * - webgpu: fused fp16 from what WebGPU runs correctly (Gelu, QuickGelu): linear layers are MatMul on a transposed
 *   weight (no FusedMatMul kernel; folded once at session creation), attention is MatMul/Softmax (its
 *   MultiHeadAttention is wrong at our shapes), GroupNorm/LayerNorm statistics in two-pass fp32 (its norm kernels
 *   are imprecise), fp16 attention in fp32, CLIP pooling without int64 ops (docs/GPU.md).
 * - coreml: portable fp16 without contrib ops (they are not CoreML ops; they would fall back to CPU).
 */
export function loweringFor(provider: ExecutionProvider, choice?: Precision | LoweringChoice): Lowering {
  const c: LoweringChoice = typeof choice === 'string' ? { precision: choice } : choice ?? {};
  switch (provider) {
    case 'cpu': {
      if (c.kind === 'fused') return { kind: 'fused', precision: c.precision ?? 'fp32', contrib: available('cpu', CONTRIB_OPS_ALL) };
      return { kind: 'portable', precision: c.precision ?? 'fp32', attention: 'mha', contrib: available('cpu', ['FusedMatMul', 'MultiHeadAttention']) };
    }
    case 'cuda':
    case 'dml': {
      const kind = c.kind ?? 'fused';
      return { kind, precision: c.precision ?? 'fp16', contrib: available(provider, DEFAULT_CONTRIB[kind]) };
    }
    case 'webgpu': {
      const kind = c.kind ?? 'fused';
      return {
        kind, precision: c.precision ?? 'fp16', contrib: available('webgpu', DEFAULT_CONTRIB[kind]),
        normStats: 'two-pass-fp32', attentionPrecision: 'fp32', int64Ops: false,
      };
    }
    case 'coreml': return { kind: c.kind ?? 'portable', precision: c.precision ?? 'fp16', contrib: [] };
    default: {
      const never: never = provider;
      throw new Error(`unknown execution provider ${String(never)}`);
    }
  }
}

/** Contrib ops that `l` may emit but `provider` does not run (empty = the lowering fits the provider). */
export function unsupportedContrib(l: Lowering, provider: ExecutionProvider): ContribOp[] {
  return (l.contrib ?? DEFAULT_CONTRIB[l.kind]).filter((op) => !CONTRIB_OPS[provider].includes(op));
}
