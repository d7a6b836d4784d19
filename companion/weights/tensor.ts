/**
 * What the rest of the engine knows about a stored tensor: where its bytes are, never the bytes.
 * The ONNX builder turns a TensorRef into an external-data initializer pointing into the original file.
 */

/** safetensors dtype names; the float ones are what networks use, the others appear in real files. */
export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Readonly<Record<DType, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export interface TensorRef {
  /** Full checkpoint key, e.g. "text_model.encoder.layers.0.self_attn.q_proj.weight". */
  readonly key: string;
  /** realpath of the file holding the bytes (hub-cache symlinks already resolved). */
  readonly file: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Absolute byte offset of the first element inside `file`. */
  readonly offset: number;
  /** Exact byte length: product(shape) * DTYPE_BYTES[dtype]. */
  readonly length: number;
  /**
   * Set on a 2-D tensor whose file stores its transpose (OpenCLIP keeps `text_projection` as [in, out] where the
   * diffusers linear weight is [out, in]): `shape` is the shape the key names, the bytes hold `shape` reversed, and
   * the graph reads them through a Transpose, so the file is used as it is.
   */
  readonly storedTransposed?: true;
}

/** The shape of the bytes in the file: `shape`, reversed when the tensor is stored transposed. */
export function storedShape(ref: TensorRef): readonly number[] {
  return ref.storedTransposed === true ? [...ref.shape].reverse() : ref.shape;
}

/**
 * A view of a checkpoint narrowed to one module path, mirroring diffusers' module tree
 * (candle's VarBuilder.pp): `scope.child('down_blocks').child(1).tensor('conv.weight', [..])`.
 */
export interface WeightScope {
  /** Dotted path of this scope, "" at the root. */
  readonly path: string;
  child(name: string | number): WeightScope;
  /** The tensor at `path.name`; throws WeightError naming the key, file and expected vs actual shape. */
  tensor(name: string, shape: readonly number[]): TensorRef;
  /** Only for documented format variants (e.g. optional biases). */
  has(name: string): boolean;
}
