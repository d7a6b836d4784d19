/**
 * How one model description becomes ONNX nodes for a given execution provider.
 * - portable: opset 17 + com.microsoft ops that every EP (incl. CPU) implements: FusedMatMul, MatMul/Softmax
 *   attention, InstanceNormalization-based GroupNorm, LayerNormalization.
 * - fused: com.microsoft MultiHeadAttention, GroupNorm (NHWC; CUDA/DirectML only), Gelu, SkipLayerNormalization.
 * precision: the compute dtype of activations and weights; statistics that METHOD.md wants in fp32 are cast
 * explicitly by the networks (Graph.cast), never implied here.
 */

export type ExecutionProvider = 'cpu' | 'cuda' | 'dml' | 'coreml';
export const EXECUTION_PROVIDERS: readonly ExecutionProvider[] = ['cpu', 'cuda', 'dml', 'coreml'];

export type LoweringKind = 'portable' | 'fused';
export type Precision = 'fp32' | 'fp16';

export interface Lowering {
  readonly kind: LoweringKind;
  readonly precision: Precision;
  /**
   * Attention kernel: 'mha' = com.microsoft.MultiHeadAttention (never materialises the N×N map; CPU, CUDA and
   * DirectML run it), 'matmul' = per-head MatMul/Softmax (any EP). Default: 'mha' when fused, 'matmul' when portable.
   */
  readonly attention?: 'mha' | 'matmul';
}

/** The attention kernel a lowering uses (see Lowering.attention). */
export function attentionKernel(l: Lowering): 'mha' | 'matmul' {
  return l.attention ?? (l.kind === 'fused' ? 'mha' : 'matmul');
}

export const PORTABLE_FP32: Lowering = { kind: 'portable', precision: 'fp32' };

/**
 * The default lowering per provider: CPU has no fp16 MatMul kernels on x64 (ORT inserts casts) and no contrib
 * GroupNorm, so it gets portable fp32, but with the contrib MultiHeadAttention, which its CPU kernel runs without
 * the N×N attention map (at 1024² SDXL's 4096-token self-attention map alone is ~1 GiB a batch of 4); CUDA and
 * DirectML get fused fp16; CoreML gets portable fp16 (contrib ops are not CoreML ops, they would fall back to CPU).
 */
export function loweringFor(provider: ExecutionProvider, precision?: Precision): Lowering {
  switch (provider) {
    case 'cpu': return { kind: 'portable', precision: precision ?? 'fp32', attention: 'mha' };
    case 'cuda':
    case 'dml': return { kind: 'fused', precision: precision ?? 'fp16' };
    case 'coreml': return { kind: 'portable', precision: precision ?? 'fp16' };
    default: {
      const never: never = provider;
      throw new Error(`unknown execution provider ${String(never)}`);
    }
  }
}
