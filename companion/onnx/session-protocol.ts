/** Messages between session.ts (caller's thread) and session-worker.ts (the thread that owns one ORT session). */
import type { ElemType } from './graph';
import type { ExecutionProvider } from './lowering';

export type TypedArray = Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

/** A tensor crossing the API: `float16`/`bfloat16` data are raw bits in a Uint16Array, `bool` a Uint8Array. */
export interface TensorData {
  readonly dtype: ElemType;
  readonly dims: readonly number[];
  readonly data: TypedArray;
}

export type LogLevel = 'verbose' | 'info' | 'warning' | 'error' | 'fatal';

export interface CreateRequest {
  readonly kind: 'create';
  readonly bytes: Uint8Array;
  readonly folder: string | null;
  readonly provider: ExecutionProvider;
  readonly deviceId: number;
  readonly optimization: 'disabled' | 'basic' | 'extended' | 'all';
  readonly intraOpThreads: number;
  readonly logLevel: LogLevel;
  /** Extra ORT session config entries (e.g. session.disable_cpu_ep_fallback = "1"). */
  readonly configEntries: Readonly<Record<string, string>>;
  /** When set, ORT profiles the session and endProfile returns per-node events (which provider ran each node). */
  readonly profilePrefix: string | null;
  /** ORT's CPU memory arena (default on); off returns activation memory to the allocator after each run. */
  readonly cpuMemArena: boolean;
}
export interface RunRequest {
  readonly kind: 'run';
  readonly feeds: Readonly<Record<string, TensorData>>;
}
export interface ReleaseRequest {
  readonly kind: 'release';
}
/** Ends ORT profiling (profilePrefix sessions only) and returns the profile file's path. */
export interface EndProfileRequest {
  readonly kind: 'endProfile';
}
export type Request = (CreateRequest | RunRequest | ReleaseRequest | EndProfileRequest) & { readonly id: number };

export interface CreateResult {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
}
export type RunResult = Readonly<Record<string, TensorData>>;

export type Reply =
  | { readonly id: number; readonly ok: true; readonly result: CreateResult | RunResult | string | null }
  | { readonly id: number; readonly ok: false; readonly error: { readonly name: string; readonly message: string } };
