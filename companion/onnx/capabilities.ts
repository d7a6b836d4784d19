/**
 * Measures which com.microsoft ops a provider runs: each op in a one-node graph, created with CPU fallback
 * disabled (so the node must run on the provider), run, and compared with the same computation in plain ONNX ops
 * on the CPU provider. This is how lowering.ts's CONTRIB_OPS rows for cpu and webgpu were made, and what
 * test/webgpu/capabilities.test.ts re-checks.
 */
import { Graph, type Value } from './graph';
import { type ContribOp, CONTRIB_OPS_ALL, type ExecutionProvider, PORTABLE_FP32 } from './lowering';
import { errorStats, floatTensor, lcgFloats, toFloat32 } from './numerics';
import { add, erf, mul, reshape, sigmoid, split, transpose } from './ops/basic';
import { DISABLE_CPU_FALLBACK, Session, type TensorData } from './session';

const MS = { domain: 'com.microsoft' } as const;
type Dtype = 'float32' | 'float16';

interface Probe {
  readonly inputs: Readonly<Record<string, readonly number[]>>;
  /** contrib = true: the contrib node; false: the plain-ONNX reference. */
  build(g: Graph, x: Readonly<Record<string, Value>>, contrib: boolean): Value;
}

const erfGelu = (x: Value) => mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));

function layerNormRef(g: Graph, x: Value, scale: Value, bias: Value): Value {
  return g.op('LayerNormalization', [x, scale, bias], { axis: -1, epsilon: { f: 1e-5 } });
}

const PROBES: Readonly<Record<ContribOp, Probe>> = {
  FusedMatMul: {
    inputs: { x: [2, 8, 16], w: [12, 16] },
    build: (g, { x, w }, c) => (c ? g.op('FusedMatMul', [x!, w!], { transB: 1, alpha: { f: 1 } }, MS) : g.op('MatMul', [x!, transpose(w!, [1, 0])])),
  },
  // Shapes our networks use: a UNet/VAE-like self-attention (64 tokens, one head of 64) and a cross-attention
  // with unequal lengths (the small shapes alone pass on WebGPU; these did not).
  MultiHeadAttention: {
    inputs: { q: [2, 64, 64], k: [2, 64, 64], v: [2, 64, 64], q2: [2, 6, 16], k2: [2, 5, 16], v2: [2, 5, 8] },
    build: (g, { q, k, v, q2, k2, v2 }, c) => {
      const mha = (qq: Value, kk: Value, vv: Value, heads: number) => {
        const [b, sq, hidden] = qq.shape as number[];
        const sk = kk.shape[1] as number;
        const vh = (vv.shape[2] as number) / heads;
        const d = hidden! / heads;
        const scale = 1 / Math.sqrt(d);
        if (c) return g.op('MultiHeadAttention', [qq, kk, vv], { num_heads: heads, scale: { f: scale } }, MS);
        const qh = transpose(reshape(qq, [b!, sq!, heads, d]), [0, 2, 1, 3]);
        const kt = transpose(reshape(kk, [b!, sk, heads, d]), [0, 2, 3, 1]);
        const vt = transpose(reshape(vv, [b!, sk, heads, vh]), [0, 2, 1, 3]);
        const p = g.op('Softmax', [mul(g.op('MatMul', [qh, kt]), scale)], { axis: -1 });
        return reshape(transpose(g.op('MatMul', [p, vt]), [0, 2, 1, 3]), [b!, sq!, heads * vh]);
      };
      const a = reshape(mha(q!, k!, v!, 1), [-1]);
      const b2 = reshape(mha(q2!, k2!, v2!, 2), [-1]);
      return g.op('Concat', [a, b2], { axis: 0 });
    },
  },
  GroupNorm: {
    inputs: { x: [2, 4, 4, 8], gamma: [8], beta: [8] },
    build: (g, { x, gamma, beta }, c) => {
      if (c) return g.op('GroupNorm', [x!, gamma!, beta!], { groups: 4, epsilon: { f: 1e-5 }, activation: 0, channels_last: 1 }, { ...MS, shape: [2, 4, 4, 8], dtype: x!.dtype });
      const grouped = reshape(transpose(x!, [0, 3, 1, 2]), [2, 4, -1]);
      const ones = g.constant(x!.dtype, [4], [1, 1, 1, 1]);
      const zeros = g.constant(x!.dtype, [4], [0, 0, 0, 0]);
      const normed = reshape(g.op('InstanceNormalization', [grouped, ones, zeros], { epsilon: { f: 1e-5 } }), [2, 8, 4, 4]);
      return transpose(add(mul(normed, reshape(gamma!, [8, 1, 1])), reshape(beta!, [8, 1, 1])), [0, 2, 3, 1]);
    },
  },
  BiasSplitGelu: {
    inputs: { x: [2, 8, 32], bias: [32] },
    build: (g, { x, bias }, c) => {
      if (c) return g.op('BiasSplitGelu', [x!, bias!], {}, MS);
      const [h, gate] = split(add(x!, bias!), [16, 16], -1) as [Value, Value];
      return mul(h, erfGelu(gate));
    },
  },
  Gelu: {
    inputs: { x: [2, 8, 16] },
    build: (g, { x }, c) => (c ? g.op('Gelu', [x!], {}, MS) : erfGelu(x!)),
  },
  QuickGelu: {
    inputs: { x: [2, 8, 16] },
    build: (g, { x }, c) => (c ? g.op('QuickGelu', [x!], { alpha: { f: 1.702 } }, MS) : mul(x!, sigmoid(mul(x!, 1.702)))),
  },
  SkipLayerNormalization: {
    inputs: { x: [2, 8, 16], skip: [2, 8, 16], gamma: [16], beta: [16] },
    build: (g, { x, skip, gamma, beta }, c) => (c
      ? g.op('SkipLayerNormalization', [x!, skip!, gamma!, beta!], { epsilon: { f: 1e-5 } }, { ...MS, shape: [2, 8, 16], dtype: x!.dtype })
      : layerNormRef(g, add(x!, skip!), gamma!, beta!)),
  },
};

function probeGraph(op: ContribOp, dtype: Dtype, contrib: boolean): Graph {
  const probe = PROBES[op];
  const g = new Graph({ lowering: PORTABLE_FP32, name: `probe_${op}` });
  const xs: Record<string, Value> = {};
  for (const [name, dims] of Object.entries(probe.inputs)) xs[name] = g.input(name, dtype, dims);
  g.output('y', probe.build(g, xs, contrib));
  return g;
}

function probeFeeds(op: ContribOp, dtype: Dtype): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  let seed = 7;
  for (const [name, dims] of Object.entries(PROBES[op].inputs)) {
    const n = dims.reduce((a, b) => a * b, 1);
    feeds[name] = floatTensor(dtype, dims, lcgFloats(n, seed++, -2, 2));
  }
  return feeds;
}

export type ProbeOutcome = 'ok' | 'no-kernel' | 'run-error' | 'wrong';

export interface OpProbe {
  readonly op: ContribOp;
  readonly dtype: Dtype;
  readonly outcome: ProbeOutcome;
  /** Max relative error against the CPU reference (when it ran). */
  readonly maxRel?: number;
  readonly message?: string;
}

/** Tolerance of a probe against the CPU reference, per dtype (fp16: a few output ulps). */
const PROBE_TOLERANCE: Readonly<Record<Dtype, number>> = { float32: 1e-5, float16: 5e-3 };

async function runOnCpu(g: Graph, feeds: Record<string, TensorData>): Promise<Float32Array> {
  const s = await Session.create(g.serialize(), { provider: 'cpu', logLevel: 'fatal' });
  try {
    return toFloat32((await s.run(feeds))['y']!);
  } finally {
    await s.release();
  }
}

/** Probes `ops` (default all) in fp32 and fp16 on `provider`. */
export async function probeContribOps(provider: ExecutionProvider, ops: readonly ContribOp[] = CONTRIB_OPS_ALL): Promise<OpProbe[]> {
  const results: OpProbe[] = [];
  for (const op of ops) {
    for (const dtype of ['float32', 'float16'] as const) {
      const feeds = probeFeeds(op, dtype);
      // Reference: the plain-ONNX form in fp32 on the CPU, from the same (possibly fp16-rounded) inputs.
      const feeds32: Record<string, TensorData> = {};
      for (const [k, t] of Object.entries(feeds)) feeds32[k] = floatTensor('float32', t.dims, toFloat32(t));
      const expected = await runOnCpu(probeGraph(op, 'float32', false), feeds32);
      let actual: Float32Array;
      try {
        const g = probeGraph(op, dtype, true);
        const s = await Session.create(g.serialize(), {
          provider, logLevel: 'fatal', ...(provider !== 'cpu' ? { configEntries: DISABLE_CPU_FALLBACK } : {}),
        }).catch((e: Error) => {
          throw Object.assign(new Error(e.message), { stage: 'create' });
        });
        try {
          actual = toFloat32((await s.run(feeds))['y']!);
        } finally {
          await s.release();
        }
      } catch (e) {
        const stage = (e as { stage?: string }).stage;
        results.push({ op, dtype, outcome: stage === 'create' ? 'no-kernel' : 'run-error', message: (e as Error).message.split('\n')[0]! });
        continue;
      }
      const { maxRel } = errorStats(actual, expected);
      results.push({ op, dtype, outcome: maxRel <= PROBE_TOLERANCE[dtype] ? 'ok' : 'wrong', maxRel });
    }
  }
  return results;
}

/** The ops that passed in every dtype: a CONTRIB_OPS row. */
export function supportedOps(results: readonly OpProbe[]): ContribOp[] {
  const ops = [...new Set(results.map((r) => r.op))];
  return ops.filter((op) => results.filter((r) => r.op === op).every((r) => r.outcome === 'ok'));
}
