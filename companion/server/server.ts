/**
 * The daemon: an HTTP server on loopback whose only use is the WebSocket upgrade, the per-install
 * token check, and the job runner. `listen()` resolves once bound; `close()` stops everything.
 */
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CodedError, PROTOCOL_VERSION, type ErrorCode, type ModelInfo, type ModelSetInfo, type ModelSets, type Welcome } from '../../protocol';
import { isEngineError } from '../runtime/errors';
import type { EngineStatus, GenerationEngine, GenerationRequest } from '../engine/engine';
import { checkUpgrade, PairingBackoff } from './auth';
import { Connection, type DaemonContext } from './connection';
import { Credentials } from './credentials';
import { JobRunner, type Job } from './jobs';
import type { ServerOptions } from './options';
import { handlePresetMessage, type PresetService } from './presets';
import { JobQueue } from './queue';

export interface PullProgress {
  readonly model: string;
  readonly file: string;
  readonly receivedBytes: number;
  readonly totalBytes: number;
}

/** The model catalogue as the daemon sees it; `companion/weights` provides the real one. */
export interface ModelService {
  /** Cheap and synchronous (file stats only): it goes into every `welcome`. */
  list(): ModelInfo[];
  /** Downloads what is missing; rejects with a message naming the file on failure. */
  pull(onProgress: (progress: PullProgress) => void, signal: AbortSignal): Promise<ModelInfo[]>;
  /** The model sets this daemon can run (file stats and headers only) and the current one; absent: the default set only. */
  sets?(): { readonly current: string; readonly sets: readonly ModelSetInfo[] };
  /**
   * Makes `id` the current set and returns the engine for it (the server checked it is idle); throws a CodedError
   * UNKNOWN_MODEL_SET or MODEL_SET_UNUSABLE. `list()` then describes what that set needs.
   */
  select?(id: string): GenerationEngine;
}

/** The one set a daemon without model roots runs. */
const DEFAULT_SET_ID = 'default';

/** How often a pull's progress may reach a panel (every file's end is always sent). */
const PULL_PROGRESS_INTERVAL_MS = 250;
const HEARTBEAT_MS = 30_000;
/** How long close() waits for the engine to release its sessions before the process may exit anyway. */
const ENGINE_RELEASE_MS = 5_000;
/** RGBA bytes of uploads not yet taken by a job, all connections together (4 full-size uploads × 4). */
const UPLOAD_BUDGET_FACTOR = 16;

/** ws's receiver checks a frame's announced length against this before reading its payload. */
interface ReceiverWithLimit {
  _maxPayload?: number;
}

export class StyleStudioServer {
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;
  /** Paired connections: at most `maxConnections`. */
  private readonly connections = new Set<Connection>();
  /** Connections that have not paired yet: at most `maxUnpaired`, in arrival order. */
  private readonly unpaired = new Set<Connection>();
  private readonly runner: JobRunner;
  private readonly context: DaemonContext;
  readonly credentials: Credentials;
  private uploadBytes = 0;
  private readonly uploadBudget: number;
  private nextConnectionId = 1;
  private pulling: AbortController | null = null;
  /** Engines replaced by setEngine, until their sessions are released. */
  private readonly retiring = new Set<Promise<void>>();
  private heartbeat: NodeJS.Timeout | null = null;
  private boundPort = 0;

  constructor(
    readonly options: ServerOptions,
    private engine: GenerationEngine,
    private readonly models: ModelService,
    /** Called after a successful pull, e.g. to load a real engine now that the weights are there. */
    private readonly afterPull: (server: StyleStudioServer) => void | Promise<void> = () => {},
    /** Where presets are kept (`serve`: the config dir's presets/); absent: none are listed or saved. */
    private readonly presets?: PresetService,
  ) {
    const { limits } = options;
    this.runner = new JobRunner(new JobQueue<Job>(limits.maxQueue, limits.maxJobsPerClient), () => this.engine, limits.previewSide);
    this.credentials = new Credentials(options.token, options.configDir);
    this.uploadBudget = UPLOAD_BUDGET_FACTOR * limits.maxImageSide * limits.maxImageSide * 4;
    this.context = {
      options,
      credentials: this.credentials,
      backoff: new PairingBackoff(options.pairing.baseMs, options.pairing.maxMs, options.pairing.windowMs),
      runner: this.runner,
      engineStatus: () => this.engine.status(),
      admit: (request) => admitRequest(this.engine, request),
      welcome: () => this.welcome(),
      pullModels: (connection, requestId) => this.pull(connection, requestId),
      modelSets: () => this.modelSets(),
      selectModelSet: (connection, requestId, id) => this.selectModelSet(connection, requestId, id),
      presets: (connection, message) => handlePresetMessage(connection, message, this.presets, () => this.modelSets().current),
      promote: (connection) => this.promote(connection),
      revoked: (panelId) => this.closePanel(panelId),
      reserveUpload: (bytes) => {
        if (this.uploadBytes + bytes > this.uploadBudget) return false;
        this.uploadBytes += bytes;
        return true;
      },
      releaseUpload: (bytes) => {
        this.uploadBytes = Math.max(0, this.uploadBytes - bytes);
      },
    };
    this.wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxPayloadBytes, perMessageDeflate: false, clientTracking: false });
    this.http = http.createServer((_req, res) => {
      res.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
      res.end(`StyleStudio companion: connect with a WebSocket speaking protocol ${PROTOCOL_VERSION}\n`);
    });
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.http.on('clientError', (_err, socket) => socket.destroy());
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    const host = this.options.host === '::1' ? '[::1]' : this.options.host;
    return `ws://${host}:${this.boundPort}`;
  }

  /** Read-only view for tests and `status`. */
  get queue(): JobQueue<Job> {
    return this.runner.queue;
  }

  /** Paired connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  get unpairedCount(): number {
    return this.unpaired.size;
  }

  /** Binds; a busy port rejects with an Error whose `code` is EADDRINUSE and whose message says what to do. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        if (err.code === 'EADDRINUSE') {
          const e = new Error(`port ${this.options.port} on ${this.options.host} is already in use: another companion may be running; stop it or pass --port N`) as NodeJS.ErrnoException;
          e.code = 'EADDRINUSE';
          reject(e);
        } else {
          reject(err);
        }
      };
      this.http.once('error', onError);
      this.http.listen(this.options.port, this.options.host, () => {
        this.http.off('error', onError);
        const address = this.http.address();
        this.boundPort = typeof address === 'object' && address ? address.port : this.options.port;
        this.heartbeat = setInterval(() => this.pingAll(), HEARTBEAT_MS);
        this.heartbeat.unref();
        resolve();
      });
    });
  }

  engineStatus(): EngineStatus {
    return this.engine.status();
  }

  /**
   * Swaps the engine (e.g. after models arrive). A running job finishes on the engine it started
   * with; the old engine is closed once that job is over.
   */
  setEngine(engine: GenerationEngine): void {
    const old = this.engine;
    this.engine = engine;
    if (old === engine) return;
    const retired: Promise<void> = this.runner.idle().then(() => old.close()).catch(() => {}).finally(() => this.retiring.delete(retired));
    this.retiring.add(retired);
  }

  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.pulling?.abort();
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    await this.runner.shutdown();
    for (const connection of [...this.connections, ...this.unpaired]) connection.terminate(1001, 'companion stopping');
    this.http.closeAllConnections?.();
    await closed;
    // Sessions run in worker threads: release them (and finish any provider check) before the process exits, or exit
    // tears a worker down inside onnxruntime and the process dies by a signal instead of exiting 0.
    // Bounded, so a stuck release never keeps Ctrl+C from stopping the companion.
    const released = Promise.all([...this.retiring, this.engine.close().catch(() => {})]);
    await Promise.race([released, new Promise<void>((resolve) => setTimeout(resolve, ENGINE_RELEASE_MS).unref())]);
  }

  private welcome(): Welcome {
    const status = this.engine.status();
    return {
      type: 'welcome',
      companionVersion: this.options.companionVersion,
      protocolVersion: PROTOCOL_VERSION,
      providers: [...status.providers],
      provider: status.provider,
      models: this.models.list(),
      engine: {
        ready: status.ready,
        ...(status.reason !== undefined ? { reason: status.reason } : {}),
        ...(status.state !== undefined ? { state: status.state } : {}),
      },
      limits: { ...this.options.limits },
    };
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const verdict = checkUpgrade({ host: req.headers.host, origin: req.headers.origin }, this.boundPort, this.options.allowedOrigins);
    if (!verdict.ok) return reject(socket, verdict.status, verdict.reason);
    // Unpaired sockets never block a pairing: a new one pushes out the oldest when the pool is full,
    // refused ones (wrong token waiting out its backoff) first.
    while (this.unpaired.size >= this.options.maxUnpaired) {
      const victim = [...this.unpaired].find((c) => c.isRefusing) ?? this.unpaired.values().next().value!;
      this.unpaired.delete(victim);
      victim.evict();
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
  }

  private onConnection(ws: WebSocket): void {
    setReceiverLimit(ws, this.options.preAuthMaxBytes);
    const connection = new Connection(this.nextConnectionId++, ws, this.context);
    this.unpaired.add(connection);
    let alive = true;
    ws.on('pong', () => (alive = true));
    connection.isAlive = () => {
      const was = alive;
      alive = false;
      return was;
    };
    ws.on('message', (data, isBinary) => {
      alive = true; // any message proves liveness too, in case a client's WebSocket does not answer pings
      connection.handle(data, isBinary);
    });
    // ws reports protocol violations (oversized message, bad UTF-8) here and then closes the socket.
    ws.on('error', () => {});
    ws.on('close', () => {
      this.unpaired.delete(connection);
      this.connections.delete(connection);
      connection.closed();
    });
  }

  private promote(connection: Connection): boolean {
    if (!this.unpaired.has(connection) || this.connections.size >= this.options.maxConnections) return false;
    this.unpaired.delete(connection);
    this.connections.add(connection);
    connection.lift((ws) => setReceiverLimit(ws, this.options.limits.maxPayloadBytes));
    return true;
  }

  private closePanel(panelId: string): void {
    for (const connection of this.connections) {
      if (connection.panelId === panelId) connection.refuse(4401, 'panel revoked');
    }
  }

  private pingAll(): void {
    for (const connection of this.connections) {
      // A panel revoked from the command line (`stylestudio token --revoke`) is dropped here.
      if (connection.panelId !== undefined && !this.credentials.isPaired(connection.panelId)) connection.refuse(4401, 'panel revoked');
      else connection.heartbeat();
    }
  }

  private modelSets(requestId?: string): ModelSets {
    const listed = this.models.sets?.() ?? {
      current: DEFAULT_SET_ID,
      sets: [{ id: DEFAULT_SET_ID, name: 'Default set', kind: 'default' as const, usable: this.models.list().every((m) => m.present) }],
    };
    const { models, engine } = this.welcome();
    return { type: 'modelSets', ...(requestId !== undefined ? { requestId } : {}), current: listed.current, sets: [...listed.sets], models, engine };
  }

  private selectModelSet(connection: Connection, requestId: string, id: string): void {
    const queue = this.runner.queue;
    if (queue.running !== null || queue.waitingCount > 0 || this.pulling !== null) {
      return connection.sendError('MODEL_SET_BUSY', 'the model set can change only while no job is queued or running and no download runs', { requestId });
    }
    if (this.models.select === undefined) {
      if (id === DEFAULT_SET_ID) return connection.send(this.modelSets(requestId));
      return connection.sendError('UNKNOWN_MODEL_SET', `no model set ${JSON.stringify(id)}: this companion runs the default set only`, { requestId });
    }
    let engine: GenerationEngine;
    try {
      engine = this.models.select(id);
    } catch (e) {
      const code = e instanceof CodedError && (e.code === 'UNKNOWN_MODEL_SET' || e.code === 'MODEL_SET_UNUSABLE') ? e.code : 'MODEL_SET_UNUSABLE';
      return connection.sendError(code, e instanceof Error ? e.message : String(e), { requestId });
    }
    this.setEngine(engine);
    connection.send(this.modelSets(requestId));
  }

  private pull(connection: Connection, requestId: string): void {
    if (this.pulling) {
      return connection.sendError('PULL_IN_PROGRESS', 'a model download is already running', { requestId });
    }
    const before = this.models.list();
    if (before.length > 0 && before.every((m) => m.present)) {
      // Nothing to fetch: keep the engine and its warm sessions.
      connection.send({ type: 'models.done', requestId, models: before });
      return;
    }
    const controller = new AbortController();
    this.pulling = controller;
    let lastSent = 0;
    const onProgress = (p: PullProgress): void => {
      const now = Date.now();
      if (now - lastSent < PULL_PROGRESS_INTERVAL_MS && p.receivedBytes !== p.totalBytes) return;
      lastSent = now;
      connection.send({ type: 'models.progress', requestId, ...p });
    };
    this.models
      .pull(onProgress, controller.signal)
      .then(async (models) => {
        await this.afterPull(this);
        connection.send({ type: 'models.done', requestId, models });
      })
      .catch((err: unknown) => {
        connection.sendError('DOWNLOAD_FAILED', err instanceof Error ? err.message : String(err), { requestId });
      })
      .finally(() => {
        this.pulling = null;
      });
  }
}

/**
 * Lowers (before pairing) or restores ws's per-connection message limit, so an unpaired client's large frame
 * is refused (1009) from its header, before its payload is buffered. `Connection` checks sizes itself too.
 */
function setReceiverLimit(ws: WebSocket, bytes: number): void {
  const receiver = (ws as unknown as { _receiver?: ReceiverWithLimit })._receiver;
  if (receiver && typeof receiver._maxPayload === 'number') receiver._maxPayload = bytes;
}

/** The one way a handshake is refused: a plain HTTP response, then the socket closes. */
function reject(socket: Duplex, status: number, reason: string): void {
  const text = status === 403 ? 'Forbidden' : 'Service Unavailable';
  const body = `${reason}\n`;
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** The engine's admission of a request, as the protocol's refusal (codes from runtime/errors.ts mapped once here). */
function admitRequest(engine: GenerationEngine, request: GenerationRequest): { code: ErrorCode; message: string } | null {
  try {
    engine.admit?.(request);
    return null;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (!isEngineError(e)) return { code: 'INTERNAL', message };
    switch (e.code) {
      case 'MEMORY_BUDGET': return { code: 'JOB_TOO_LARGE', message };
      case 'MODEL_FILES_MISSING': return { code: 'MODELS_MISSING', message };
      case 'BAD_REQUEST': return { code: 'BAD_MESSAGE', message };
      default: return { code: 'JOB_UNSUPPORTED', message };
    }
  }
}
