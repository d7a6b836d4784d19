/** The provider self-check (onnx/self-check.ts) on WebGPU and the CPU: verdicts, node placement, cache, fallback. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Graph } from '../../companion/onnx/graph';
import { loweringFor, PORTABLE_FP32 } from '../../companion/onnx/lowering';
import { ProviderUnavailableError, Session, SessionError } from '../../companion/onnx/session';
import { autoProviderOrder, chooseProvider, chooseVerified, softwareVulkanOnly, verifyProvider } from '../../companion/onnx/self-check';
import { requireWebGpu } from './harness';

// Every test gets an empty verdict cache: a verdict another test cached must not decide this one (jest --randomize).
let cacheDir: string;
beforeAll(async () => {
  await requireWebGpu();
}, 120_000);
beforeEach(() => {
  cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'selfcheck-test-'));
});
afterEach(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

test.each(['fp32', 'fp16'] as const)('WebGPU default lowering, %s: passes, every node on the WebGPU provider', async (precision) => {
  const r = await verifyProvider('webgpu', loweringFor('webgpu', precision), { cacheDir });
  console.log(`self-check webgpu ${precision}: max rel ${r.maxRel.toExponential(2)}, ${JSON.stringify(r.nodesByProvider)}, ${r.msPerStep.toFixed(1)} ms/step`);
  expect(r).toMatchObject({ passed: true, cached: false, provider: 'webgpu' });
  expect(r.maxRel).toBeLessThanOrEqual(precision === 'fp32' ? 1e-5 : 1e-2);
  expect(Object.keys(r.nodesByProvider)).toEqual(['WebGpuExecutionProvider']);
  expect(r.nodesByProvider['WebGpuExecutionProvider']).toBeGreaterThan(50);
  // the second call is answered from gpu-verified.json
  const again = await verifyProvider('webgpu', loweringFor('webgpu', precision), { cacheDir });
  expect(again).toMatchObject({ passed: true, cached: true, maxRel: r.maxRel });
}, 300_000);

test('a lowering with ops WebGPU lacks fails with CPU_FALLBACK', async () => {
  const portable = await verifyProvider('webgpu', { kind: 'portable', precision: 'fp32' }, { cacheDir: null });
  expect(portable).toMatchObject({ passed: false, code: 'CPU_FALLBACK', maxRel: Infinity });
}, 300_000);

test('chooseVerified falls back to the CPU with one message naming provider, code and reason', async () => {
  const c = await chooseVerified('webgpu', { kind: 'portable', precision: 'fp32' }, { cacheDir: null });
  expect(c.provider).toBe('cpu');
  expect(c.lowering).toEqual(loweringFor('cpu'));
  expect(c.message).toMatch(/^not using webgpu \(portable fp32\): self-check failed \[CPU_FALLBACK\] .*; running on the CPU instead$/);
  const ok = await chooseVerified('webgpu', loweringFor('webgpu', 'fp32'), { cacheDir });
  expect(ok).toMatchObject({ provider: 'webgpu', lowering: loweringFor('webgpu', 'fp32') });
  expect(ok.message).toBeUndefined();
}, 300_000);

test("'auto' skips WebGPU without a GPU device node (lavapipe only) and tries it with one; the CPU otherwise", async () => {
  const dev = fs.mkdtempSync(path.join(os.tmpdir(), 'dev-'));
  const saved = process.env['STYLESTUDIO_DEV_DIR'];
  process.env['STYLESTUDIO_DEV_DIR'] = dev;
  try {
    fs.writeFileSync(path.join(dev, 'null'), '');
    expect(softwareVulkanOnly()).toBe(true);
    expect(autoProviderOrder('linux')).toEqual(['cuda']);
    const cpu = await chooseProvider('auto', 'fp32', { cacheDir });
    expect(cpu).toMatchObject({ provider: 'cpu' });
    expect(cpu.message).toBeUndefined(); // nothing was offered that failed
    // a render node (here lavapipe still answers: the self-check decides)
    fs.mkdirSync(path.join(dev, 'dri'));
    fs.writeFileSync(path.join(dev, 'dri', 'renderD128'), '');
    expect(autoProviderOrder('linux')).toEqual(['cuda', 'webgpu']);
    const c = await chooseProvider('auto', 'fp32', { cacheDir });
    expect(c.provider).toBe('webgpu');
  } finally {
    if (saved === undefined) delete process.env['STYLESTUDIO_DEV_DIR'];
    else process.env['STYLESTUDIO_DEV_DIR'] = saved;
    fs.rmSync(dev, { recursive: true, force: true });
  }
  expect(autoProviderOrder('win32')).toEqual(['dml', 'webgpu']);
  expect(autoProviderOrder('darwin')).toEqual(['webgpu']);
}, 300_000);

test('a provider this platform lacks is reported, not cached', async () => {
  const dml = process.platform === 'win32' ? 'coreml' : 'dml';
  const file = path.join(cacheDir, 'gpu-verified.json');
  fs.writeFileSync(file, '{}');
  const r = await verifyProvider(dml, loweringFor(dml), { cacheDir });
  expect(r).toMatchObject({ passed: false, code: 'PROVIDER_UNAVAILABLE' });
  const cache = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  expect(Object.keys(cache).some((k) => k.startsWith(`${dml}|`))).toBe(false);
});

test('a model that fails on a provider that works is the model\'s failure (SessionError), not PROVIDER_UNAVAILABLE', async () => {
  const g = new Graph({ lowering: PORTABLE_FP32 });
  g.output('y', g.op('NoSuchOp', [g.input('x', 'float32', [1])], {}, { shape: [1], dtype: 'float32' }));
  const err = await Session.create(g.serialize(), { provider: 'webgpu', logLevel: 'fatal' }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SessionError);
  expect(err).not.toBeInstanceOf(ProviderUnavailableError);
  expect((err as Error).message).toMatch(/^creating the webgpu session failed: .*NoSuchOp/);
}, 120_000);
