/**
 * The GPU suite's shared pieces: a clear failure when WebGPU cannot run here, one session per graph and provider,
 * and feeds in a graph's compute dtype. Every WebGPU session is created with CPU fallback disabled, so creation
 * fails if any node would not run on the WebGPU provider.
 */
import type { SerializedModel } from '../../companion/onnx/graph';
import { floatTensor, toFloat32 } from '../../companion/onnx/numerics';
import { listedProviders } from '../../companion/onnx/providers';
import { DISABLE_CPU_FALLBACK, Session, type TensorData } from '../../companion/onnx/session';

export const WEBGPU_MISSING = [
  'WebGPU cannot run here. The GPU suite needs onnxruntime-node\'s WebGPU provider and a Vulkan driver: on Debian',
  'bookworm run `sudo .ci/install-vulkan.sh` (Mesa >= 25 from bookworm-backports; Mesa 22.3 is rejected by Dawn) and',
  'make sure XDG_RUNTIME_DIR points to a writable directory. See docs/GPU.md.',
].join(' ');

/** Throws WEBGPU_MISSING (with the cause) unless a tiny WebGPU session really runs here. */
export async function requireWebGpu(): Promise<void> {
  if (!listedProviders().includes('webgpu')) throw new Error(`${WEBGPU_MISSING} (onnxruntime-node offers [${listedProviders().join(', ')}])`);
  const { Graph } = await import('../../companion/onnx/graph');
  const g = new Graph({ lowering: { kind: 'portable', precision: 'fp32', contrib: [] } });
  const x = g.input('x', 'float32', [4]);
  g.output('y', g.op('Mul', [x, x]));
  try {
    const s = await Session.create(g.serialize(), { provider: 'webgpu', logLevel: 'fatal', configEntries: DISABLE_CPU_FALLBACK });
    const out = await s.run({ x: { dtype: 'float32', dims: [4], data: new Float32Array([1, 2, 3, 4]) } });
    await s.release();
    if ((out['y']!.data as Float32Array)[3] !== 16) throw new Error('wrong result from a WebGPU Mul');
  } catch (e) {
    throw new Error(`${WEBGPU_MISSING} Cause: ${(e as Error).message}`);
  }
}

export function webgpuSession(model: SerializedModel): Promise<Session> {
  return Session.create(model, { provider: 'webgpu', logLevel: 'fatal', configEntries: DISABLE_CPU_FALLBACK });
}

export function cpuSession(model: SerializedModel): Promise<Session> {
  return Session.create(model, { provider: 'cpu', logLevel: 'fatal' });
}

/** `feeds` with the named float inputs converted to float16 (a fp16 graph's compute-typed inputs). */
export function asFp16(feeds: Readonly<Record<string, TensorData>>, names: readonly string[]): Record<string, TensorData> {
  const out: Record<string, TensorData> = { ...feeds };
  for (const n of names) {
    const t = feeds[n];
    if (t) out[n] = floatTensor('float16', t.dims, toFloat32(t));
  }
  return out;
}

export { errorStats, toFloat32 } from '../../companion/onnx/numerics';
