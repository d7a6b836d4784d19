/**
 * Worker thread owning one onnxruntime-node session: ORT's run() is synchronous native code, so it must not
 * run on the caller's event loop. One request at a time; replies carry the request id.
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { CreateRequest, Reply, Request, RunResult, TensorData, TypedArray } from './session-protocol';

const ORT_PROVIDER = { cpu: 'cpu', cuda: 'cuda', dml: 'dml', coreml: 'coreml', webgpu: 'webgpu' } as const;

const SEVERITY = { verbose: 0, info: 1, warning: 2, error: 3, fatal: 4 } as const;

let session: ort.InferenceSession | null = null;
let profiling = false;

async function create(req: CreateRequest): Promise<{ inputNames: string[]; outputNames: string[] }> {
  // The environment logger is process-wide and set once (first session wins); the session logger is ours.
  ort.env.logLevel = req.logLevel;
  const epName = ORT_PROVIDER[req.provider];
  const provider: ort.InferenceSession.ExecutionProviderConfig =
    req.provider === 'cpu' || req.provider === 'webgpu'
      ? epName
      : ({ name: epName, deviceId: req.deviceId } as ort.InferenceSession.ExecutionProviderConfig);
  const config: Record<string, string> = { ...req.configEntries };
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    graphOptimizationLevel: req.optimization,
    logSeverityLevel: SEVERITY[req.logLevel],
    ...(req.intraOpThreads > 0 ? { intraOpNumThreads: req.intraOpThreads } : {}),
    enableCpuMemArena: req.cpuMemArena,
    ...(req.profilePrefix !== null ? { enableProfiling: true, profileFilePrefix: req.profilePrefix } : {}),
    // The binding flattens `extra` into config entries joined with '.', so full keys ("session.x") go at the top.
    // External data resolves against the folder; the model bytes never touch the disk.
    extra: {
      ...config,
      ...(req.folder !== null ? { session: { model_external_initializers_file_folder_path: req.folder } } : {}),
    },
  };
  session = await ort.InferenceSession.create(req.bytes, options);
  profiling = req.profilePrefix !== null;
  return { inputNames: [...session.inputNames], outputNames: [...session.outputNames] };
}

function toOrt(t: TensorData): ort.Tensor {
  // bfloat16 has no ORT-JS tensor type; callers feed float16/float32 instead.
  if (t.dtype === 'bfloat16') throw new Error('bfloat16 tensors cannot be fed; cast in the graph');
  return new ort.Tensor(t.dtype === 'float32' ? 'float32' : t.dtype, t.data as never, t.dims);
}

async function run(feeds: Readonly<Record<string, TensorData>>): Promise<RunResult> {
  if (!session) throw new Error('session not created');
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrt(t);
  const outputs = await session.run(ortFeeds);
  const result: Record<string, TensorData> = {};
  for (const [name, t] of Object.entries(outputs)) {
    result[name] = { dtype: t.type as TensorData['dtype'], dims: [...t.dims], data: t.data as TypedArray };
  }
  return result;
}

async function handle(req: Request): Promise<Reply> {
  try {
    switch (req.kind) {
      case 'create': return { id: req.id, ok: true, result: await create(req) };
      case 'run': return { id: req.id, ok: true, result: await run(req.feeds) };
      case 'endProfile': {
        if (!session || !profiling) throw new Error('endProfile: the session was not created with profiling');
        profiling = false;
        // onnxruntime-node's endProfiling() returns nothing; ORT names the file <prefix>_<date>.json.
        session.endProfiling();
        return { id: req.id, ok: true, result: null };
      }
      case 'release':
        await session?.release();
        session = null;
        return { id: req.id, ok: true, result: null };
    }
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    return { id: req.id, ok: false, error: { name: err.name, message: err.message } };
  }
}

if (!parentPort) throw new Error('session-worker must run as a worker thread');
const port = parentPort;
let queue: Promise<void> = Promise.resolve();
port.on('message', (req: Request) => {
  queue = queue.then(async () => port.postMessage(await handle(req)));
});
