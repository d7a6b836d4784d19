/**
 * The graph builder's value types, on their own so that graph.ts, elements.ts and shape-inference.ts depend on them
 * and not on each other (graph.ts re-exports them).
 */
import type { TensorProto } from './onnx-proto';

export type ElemType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';
/** A fixed size or a symbolic name (ONNX dim_param), e.g. 'batch'. */
export type Dim = number | string;
export type Shape = readonly Dim[];

/** Attribute values as callers write them; see graph.ts's header comment for the mapping. */
export type Attr = number | string | readonly number[] | { readonly f: number } | { readonly fs: readonly number[] } | { readonly t: TensorProto };
export type Attrs = Readonly<Record<string, Attr | undefined>>;

/** What shape inference needs of a value. */
export interface TypedValue {
  readonly name: string;
  readonly dtype: ElemType;
  readonly shape: Shape;
  readonly rank: number;
  /** The dim at `axis` (negative counts from the end). */
  dim(axis: number): Dim;
}

/** The values of a constant (raw-data initializer), as shape inference reads them. */
export interface ConstData {
  readonly dtype: ElemType;
  readonly shape: readonly number[];
  readonly values: readonly number[];
}

/** Where shape inference looks up constant inputs (shapes of Reshape, scales of Resize, …). */
export interface ConstLookup {
  constValue(v: TypedValue): ConstData | undefined;
}
