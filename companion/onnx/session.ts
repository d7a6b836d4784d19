/**
 * Inference sessions, each owned by its own worker thread so the caller's event loop never blocks while ORT
 * runs. Sessions are created from the serialised model bytes plus the external-data folder: nothing is written
 * to disk. The only module (with session-worker.ts and providers.ts) that loads onnxruntime-node.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Graph, type SerializedModel } from './graph';
import { EXECUTION_PROVIDERS, type ExecutionProvider, PORTABLE_FP32 } from './lowering';
import { checkProviderListed, providerHint, ProviderUnavailableError } from './providers';
import type { CreateResult, LogLevel, Reply, Request, RunResult, TensorData } from './session-protocol';
import { codedErrorClass } from '../../protocol';

export type { TensorData, TypedArray } from './session-protocol';
export { ProviderUnavailableError } from './providers';

export interface SessionOptions {
  readonly provider?: ExecutionProvider;
  readonly deviceId?: number;
  /** ORT graph optimisation level (default 'all'). */
  readonly optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Intra-op threads (0 = ORT's default). */
  readonly intraOpThreads?: number;
  /** ORT's native log level (default 'error'). */
  readonly logLevel?: LogLevel;
  /**
   * Extra ORT session config entries, passed through as they are. E.g. DISABLE_CPU_FALLBACK makes session creation
   * fail when any node would run on the CPU instead of `provider`.
   */
  readonly configEntries?: Readonly<Record<string, string>>;
  /** Profile runs (ORT's JSON trace, written under this path prefix); endProfiling() then returns the file. */
  readonly profilePrefix?: string;
  /** This session is the provider probe itself: its failure means the provider is unavailable (no second probe). */
  readonly isProbe?: boolean;
  /** ORT's CPU memory arena (default true). */
  readonly cpuMemArena?: boolean;
}

/** Session config entry that forbids ORT from placing any node on the CPU provider behind a GPU provider. */
export const DISABLE_CPU_FALLBACK: Readonly<Record<string, string>> = { 'session.disable_cpu_ep_fallback': '1' };

/** ORT refused the model or a run failed; the message is ORT's, prefixed with what we were doing. */
export class SessionError extends codedErrorClass('SessionError', 'SESSION_FAILED') {}

type Kind = Request extends infer R ? (R extends { kind: infer K } ? K : never) : never;
type Payload<K extends Kind> = Omit<Extract<Request, { kind: K }>, 'id'>;

const WORKER_FILE = path.join(__dirname, 'session-worker.js');

export class Session {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
  private released = false;
  private info: CreateResult = { inputNames: [], outputNames: [] };
  private profilePrefix: string | undefined;

  private constructor(private readonly worker: Worker, readonly provider: ExecutionProvider) {
    worker.on('message', (reply: Reply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.result);
      else p.reject(new SessionError(reply.error.message));
    });
    worker.on('error', (e) => this.failAll(new SessionError(`session worker crashed: ${e.message}`)));
    worker.on('exit', (code) => {
      if (!this.released || this.pending.size > 0) this.failAll(new SessionError(`session worker exited (code ${code})`));
    });
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /**
   * WebGPU sessions share one device context per process (ORT's WebGPU context), and two threads using it at once
   * corrupt it (measured: "deferred dispatch count exceeds maxNumPendingDispatches", or a crash), so every WebGPU
   * create/run/release in this process goes through this one queue.
   */
  private static webgpuQueue: Promise<unknown> = Promise.resolve();

  private call<K extends Kind>(payload: Payload<K>): Promise<unknown> {
    if (this.released) return Promise.reject(new SessionError('session already released'));
    const send = () => {
      const id = this.nextId++;
      return new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        this.worker.postMessage({ ...payload, id });
      });
    };
    if (this.provider !== 'webgpu') return send();
    const next = Session.webgpuQueue.then(send, send);
    Session.webgpuQueue = next.catch(() => undefined);
    return next;
  }

  /** Starts a worker and creates the session in it; fails with ProviderUnavailableError or SessionError. */
  static async create(model: SerializedModel, options: SessionOptions = {}): Promise<Session> {
    const provider = options.provider ?? 'cpu';
    checkProviderListed(provider);
    const worker = new Worker(WORKER_FILE);
    const s = new Session(worker, provider);
    s.profilePrefix = options.profilePrefix;
    try {
      s.info = (await s.call<'create'>({
        kind: 'create',
        bytes: model.bytes,
        folder: model.folder,
        provider,
        deviceId: options.deviceId ?? 0,
        optimization: options.optimization ?? 'all',
        intraOpThreads: options.intraOpThreads ?? 0,
        logLevel: options.logLevel ?? 'error',
        configEntries: options.configEntries ?? {},
        profilePrefix: options.profilePrefix ?? null,
        cpuMemArena: options.cpuMemArena ?? true,
      })) as CreateResult;
    } catch (e) {
      s.released = true;
      await worker.terminate();
      const message = (e as Error).message;
      // ORT's errors carry no codes, so whose fault it was is decided by running, not by reading the message: if
      // the provider cannot run even the probe graph, the provider is unavailable; otherwise this model failed.
      if (provider !== 'cpu' && (options.isProbe === true || !(await providerRunsProbe(provider)))) {
        throw new ProviderUnavailableError(provider, `execution provider ${provider} failed to start: ${message.trim()} (${providerHint(provider)})`);
      }
      throw new SessionError(`creating the ${provider} session failed: ${message}`);
    }
    return s;
  }

  get inputNames(): readonly string[] {
    return this.info.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.info.outputNames;
  }

  /** Runs the graph in the worker; resolves with every output as a typed array and its dims. */
  async run(feeds: Readonly<Record<string, TensorData>>): Promise<RunResult> {
    const missing = this.inputNames.filter((n) => !(n in feeds));
    const unknown = Object.keys(feeds).filter((n) => !this.inputNames.includes(n));
    if (missing.length || unknown.length) {
      throw new SessionError(`run: missing inputs [${missing.join(', ')}], unknown inputs [${unknown.join(', ')}]`);
    }
    for (const [name, t] of Object.entries(feeds)) {
      const count = t.dims.reduce((a, b) => a * b, 1);
      if (count !== t.data.length) throw new SessionError(`run: input ${name} has ${t.data.length} elements for dims [${t.dims.join(', ')}]`);
    }
    return (await this.call<'run'>({ kind: 'run', feeds })) as RunResult;
  }

  /**
   * Ends profiling (sessions created with profilePrefix) and returns the path of ORT's JSON trace: the newest file
   * starting with the prefix.
   */
  async endProfiling(): Promise<string> {
    await this.call<'endProfile'>({ kind: 'endProfile' });
    const prefix = this.profilePrefix;
    if (prefix === undefined) throw new SessionError('endProfiling: session was created without profilePrefix');
    const dir = path.dirname(prefix);
    const base = path.basename(prefix);
    const files = fs.readdirSync(dir).filter((f) => f.startsWith(base) && f.endsWith('.json'))
      .map((f) => path.join(dir, f)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
    if (files.length === 0) throw new SessionError(`endProfiling: no profile written under ${prefix}`);
    return files[0]!;
  }

  /** Frees the session and stops its worker. Safe to call twice. */
  async release(): Promise<void> {
    if (this.released) return;
    try {
      await this.call<'release'>({ kind: 'release' });
    } finally {
      this.released = true;
      await this.worker.terminate();
    }
  }
}

export interface ProviderReport {
  readonly provider: ExecutionProvider;
  readonly available: boolean;
  /** Why not, when unavailable. */
  readonly reason?: string;
}

function probeModel() {
  const g = new Graph({ lowering: PORTABLE_FP32, name: 'probe' });
  const x = g.input('x', 'float32', [2]);
  g.output('y', g.op('Add', [x, g.constant('float32', [2], [1, 2])]));
  return g.serialize();
}

/** Creates and runs the probe graph on `provider`; throws why it cannot. */
async function runProbe(provider: ExecutionProvider): Promise<void> {
  const s = await Session.create(probeModel(), { provider, logLevel: 'fatal', isProbe: true });
  try {
    const out = await s.run({ x: { dtype: 'float32', dims: [2], data: new Float32Array([1, 1]) } });
    const y = out['y']?.data;
    if (!y || y[0] !== 2 || y[1] !== 3) throw new Error(`probe returned wrong numbers: ${String(y)}`);
  } finally {
    await s.release();
  }
}

const probeVerdicts = new Map<ExecutionProvider, Promise<boolean>>();

/** Whether `provider` runs the probe graph in this process (asked once per provider). */
function providerRunsProbe(provider: ExecutionProvider): Promise<boolean> {
  let verdict = probeVerdicts.get(provider);
  if (!verdict) {
    verdict = runProbe(provider).then(() => true, () => false);
    probeVerdicts.set(provider, verdict);
  }
  return verdict;
}

/** Tries a tiny session on every provider (the `doctor` command prints this). */
export async function availableProviders(): Promise<ProviderReport[]> {
  const reports: ProviderReport[] = [];
  for (const provider of EXECUTION_PROVIDERS) {
    try {
      await runProbe(provider);
      reports.push({ provider, available: true });
    } catch (e) {
      reports.push({ provider, available: false, reason: (e as Error).message });
    }
  }
  return reports;
}
