/** Reads golden tensors (safetensors + JSON sidecar written by tools/golden/*.py) as float32/int arrays. */
import * as fs from 'node:fs';
import { readSafetensors } from '../../../companion/weights/safetensors';
import type { TensorData } from '../../../companion/onnx/session';
import { fixture } from '../../helpers/paths';

export interface GoldenTensor {
  readonly shape: number[];
  readonly data: Float32Array;
}

export class Golden {
  private readonly bytes: Buffer;
  private readonly file: ReturnType<typeof readSafetensors>;
  readonly sidecar: { inputs: Record<string, unknown> };

  constructor(readonly name: string) {
    const path = fixture('golden', `${name}.safetensors`);
    this.file = readSafetensors(path);
    this.bytes = fs.readFileSync(path);
    this.sidecar = JSON.parse(fs.readFileSync(fixture('golden', `${name}.json`), 'utf8')) as { inputs: Record<string, unknown> };
  }

  get(key: string): GoldenTensor {
    const t = this.file.tensors.get(key);
    if (!t) throw new Error(`golden ${this.name}: no tensor ${key}`);
    if (t.dtype !== 'F32') throw new Error(`golden ${this.name}: ${key} is ${t.dtype}, expected F32`);
    const copy = this.bytes.subarray(t.offset, t.offset + t.length);
    const data = new Float32Array(copy.buffer.slice(copy.byteOffset, copy.byteOffset + copy.byteLength));
    return { shape: [...t.shape], data };
  }

  /** A float32 feed; `shape` overrides the stored one (e.g. a scalar timestep broadcast to [B]). */
  feed(key: string, shape?: number[]): TensorData {
    const t = this.get(key);
    return { dtype: 'float32', dims: shape ?? t.shape, data: t.data };
  }
}

export function floats(dims: number[], values: ArrayLike<number>): TensorData {
  return { dtype: 'float32', dims, data: Float32Array.from(values) };
}

export function int64s(values: readonly number[]): TensorData {
  return { dtype: 'int64', dims: [values.length], data: BigInt64Array.from(values.map(BigInt)) };
}

/** Max |a − e| relative to max |e| (the output's scale), and the max abs difference. */
export function relError(actual: ArrayLike<number>, expected: ArrayLike<number>): { rel: number; maxAbs: number } {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return { rel: maxAbs / scale, maxAbs };
}

/** ‖a − e‖₂ / ‖e‖₂: the pipeline tests' measure of how far final latents are from a golden run. */
export function relL2(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < actual.length; i++) {
    num += (actual[i]! - expected[i]!) ** 2;
    den += expected[i]! ** 2;
  }
  return Math.sqrt(num / den);
}
