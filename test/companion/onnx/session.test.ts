import { Graph } from '../../../companion/onnx/graph';
import { PORTABLE_FP32 } from '../../../companion/onnx/lowering';
import { ProviderUnavailableError, Session, SessionError, availableProviders } from '../../../companion/onnx/session';
import { f32, pseudoRandom } from '../../helpers/onnx-run';

/** A graph heavy enough that one run spans many event-loop turns: 6 chained 384×384 MatMuls on a batch of 8. */
function heavyModel() {
  const g = new Graph({ lowering: PORTABLE_FP32 });
  let x = g.input('x', 'float32', [8, 384, 384]);
  const w = g.constant('float32', [384, 384], pseudoRandom(384 * 384, 9).map((v) => v / 20));
  for (let i = 0; i < 6; i++) x = g.op('MatMul', [x, w]);
  g.output('y', x);
  return g.serialize();
}

describe('Session', () => {
  it('keeps the caller\'s event loop running while a run is in flight', async () => {
    const session = await Session.create(heavyModel(), { provider: 'cpu' });
    try {
      let ticks = 0;
      let done = false;
      const timer = setInterval(() => {
        if (!done) ticks++;
      }, 1);
      const x = f32([8, 384, 384], pseudoRandom(8 * 384 * 384, 1));
      const out = await session.run({ x });
      done = true;
      clearInterval(timer);
      expect(out['y']!.dims).toEqual([8, 384, 384]);
      // A run on the caller's thread would let no timer fire until it returned.
      expect(ticks).toBeGreaterThan(0);
    } finally {
      await session.release();
    }
  });

  it('returns outputs as typed arrays with dims and names its inputs and outputs', async () => {
    const g = new Graph({ lowering: PORTABLE_FP32 });
    const a = g.input('a', 'float32', ['n']);
    const i = g.input('i', 'int64', ['n']);
    g.output('sum', g.op('Add', [a, a]));
    g.output('idx', g.op('Add', [i, g.constant('int64', [1], [10])]));
    const s = await Session.create(g.serialize());
    try {
      expect(s.inputNames).toEqual(['a', 'i']);
      expect(s.outputNames).toEqual(['sum', 'idx']);
      const out = await s.run({ a: f32([3], [1, 2, 3]), i: { dtype: 'int64', dims: [3], data: BigInt64Array.from([1n, 2n, 3n]) } });
      expect(Array.from(out['sum']!.data as Float32Array)).toEqual([2, 4, 6]);
      expect(out['idx']!.dtype).toBe('int64');
      expect(Array.from(out['idx']!.data as BigInt64Array)).toEqual([11n, 12n, 13n]);
      await expect(s.run({ a: f32([3], [1, 2, 3]) })).rejects.toThrow(/missing inputs \[i\]/);
      await expect(s.run({ a: f32([2], [1, 2, 3]), i: { dtype: 'int64', dims: [3], data: new BigInt64Array(3) } }))
        .rejects.toThrow(/input a has 3 elements for dims \[2\]/);
      await expect(s.run({ a: f32([3], [1, 2, 3]), i: { dtype: 'int64', dims: [3], data: new BigInt64Array(3) }, b: f32([1], [1]) }))
        .rejects.toThrow(/unknown inputs \[b\]/);
    } finally {
      await s.release();
    }
    await s.release();
    await expect(s.run({})).rejects.toThrow(SessionError);
  });

  it('turns ORT failures into SessionError with ORT\'s message', async () => {
    const g = new Graph({ lowering: PORTABLE_FP32 });
    const x = g.input('x', 'float32', [2]);
    // An op ORT has no kernel for: creation fails in the worker and the caller gets a rejected promise.
    g.output('y', g.op('NoSuchOp', [x], {}, { shape: [2], dtype: 'float32' }));
    await expect(Session.create(g.serialize())).rejects.toThrow(/creating the cpu session failed: .*NoSuchOp/);
  });

  it('refuses providers this platform does not offer with a clear error', async () => {
    const g = new Graph({ lowering: PORTABLE_FP32 });
    g.output('y', g.input('x', 'float32', [1]));
    const model = g.serialize();
    const foreign = process.platform === 'win32' ? 'coreml' : 'dml';
    const err = await Session.create(model, { provider: foreign }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderUnavailableError);
    expect((err as Error).message).toMatch(new RegExp(`execution provider ${foreign} is not available on ${process.platform}/${process.arch}`));
  });

  it('a provider that cannot start is ProviderUnavailableError with how to get it (decided by running a probe)', async () => {
    const cudaWorks = (await availableProviders())[1]!.available;
    const g = new Graph({ lowering: PORTABLE_FP32 });
    g.output('y', g.op('Neg', [g.input('x', 'float32', [1])]));
    const created = await Session.create(g.serialize(), { provider: 'cuda', logLevel: 'fatal' }).catch((e: unknown) => e);
    if (cudaWorks) {
      await (created as Session).release();
    } else {
      expect(created).toBeInstanceOf(ProviderUnavailableError);
      expect((created as Error).message).toMatch(/execution provider cuda failed to start: .*--onnxruntime-node-install=cuda12/);
    }
  });

  it('reports which providers work here (cpu always; the others with a reason when not)', async () => {
    const reports = await availableProviders();
    expect(reports.map((r) => r.provider)).toEqual(['cpu', 'cuda', 'dml', 'coreml', 'webgpu']);
    expect(reports[0]).toEqual({ provider: 'cpu', available: true });
    for (const r of reports) if (!r.available) expect(r.reason).toMatch(new RegExp(`execution provider ${r.provider}`));
    if (process.platform !== 'win32') expect(reports[2]!.available).toBe(false);
    // Where CUDA does not work, the reason says how a user gets it.
    if (!reports[1]!.available) expect(reports[1]!.reason).toMatch(/--onnxruntime-node-install=cuda12/);
  });
});
