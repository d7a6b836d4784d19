/** Test helper: serialise a graph, run it once in a real worker-thread ORT session, release it. */
import type { Graph } from '../../companion/onnx/graph';
import { lcgFloats } from '../../companion/onnx/numerics';
import { Session, type SessionOptions, type TensorData } from '../../companion/onnx/session';

export async function runGraph(
  g: Graph,
  feeds: Record<string, TensorData>,
  options: SessionOptions = {},
): Promise<Record<string, TensorData>> {
  const session = await Session.create(g.serialize(), options);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

export function f32(dims: number[], values: ArrayLike<number>): TensorData {
  return { dtype: 'float32', dims, data: Float32Array.from(values) };
}

/** Max |a-b| / max(|b|, floor) over all elements, plus max abs diff. */
export function compare(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 1e-3): { maxAbs: number; maxRel: number } {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let maxAbs = 0;
  let maxRel = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    maxRel = Math.max(maxRel, Number.isNaN(d) ? Infinity : d / Math.max(Math.abs(expected[i]!), floor));
  }
  return { maxAbs, maxRel };
}

/** Deterministic pseudo-random floats in [-1, 1) (numerics.ts's LCG), for test inputs and weights. */
export function pseudoRandom(n: number, seed: number): Float32Array {
  return lcgFloats(n, seed);
}
