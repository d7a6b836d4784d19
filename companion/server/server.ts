/**
 * The daemon: an HTTP server on loopback whose only use is the WebSocket upgrade, the per-install
 * token check, and the job runner. `listen()` resolves once bound; `close()` stops everything.
 */
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { PROTOCOL_VERSION, type ErrorCode, type ModelInfo, type Welcome } from '../../protocol';
import { isEngineError } from '../runtime/errors';
import type { EngineStatus, GenerationEngine, GenerationRequest } from '../pipeline/engine';
import { checkUpgrade, FailureLimiter } from './auth';
import { JobRunner, type Job } from './jobs';
import type { ServerOptions } from './options';
import { JobQueue } from './queue';
import { Session, type DaemonContext } from './session';

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
}

/** How often a pull's progress may reach a panel (every file's end is always sent). */
const PULL_PROGRESS_INTERVAL_MS = 250;
const HEARTBEAT_MS = 30_000;

export class StyleStudioServer {
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<Session>();
  private readonly runner: JobRunner;
  private readonly context: DaemonContext;
  private nextSessionId = 1;
  private pulling: AbortController | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private boundPort = 0;

  constructor(
    readonly options: ServerOptions,
    private engine: GenerationEngine,
    private readonly models: ModelService,
    /** Called after a successful pull, e.g. to load a real engine now that the weights are there. */
    private readonly afterPull: (server: StyleStudioServer) => void | Promise<void> = () => {},
  ) {
    const { limits } = options;
    this.runner = new JobRunner(new JobQueue<Job>(limits.maxQueue, limits.maxJobsPerClient), () => this.engine, limits.previewSide);
    this.context = {
      options,
      limiter: new FailureLimiter(options.pairing.maxFailures, options.pairing.windowMs),
      runner: this.runner,
      engineStatus: () => this.engine.status(),
      admit: (request) => admitRequest(this.engine, request),
      welcome: () => this.welcome(),
      pullModels: (session, requestId) => this.pull(session, requestId),
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

  get connectionCount(): number {
    return this.sessions.size;
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
    if (old !== engine) void this.runner.idle().then(() => old.close()).catch(() => {});
  }

  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.pulling?.abort();
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    await this.runner.shutdown();
    for (const session of this.sessions) session.terminate(1001, 'companion stopping');
    this.http.closeAllConnections?.();
    await closed;
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
    if (this.sessions.size >= this.options.maxConnections) {
      return reject(socket, 503, `at most ${this.options.maxConnections} connections`);
    }
    const verdict = checkUpgrade({ host: req.headers.host, origin: req.headers.origin }, this.boundPort, this.options.allowedOrigins);
    if (!verdict.ok) return reject(socket, verdict.status, verdict.reason);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
  }

  private onConnection(ws: WebSocket): void {
    const session = new Session(this.nextSessionId++, ws, this.context);
    this.sessions.add(session);
    let alive = true;
    ws.on('pong', () => (alive = true));
    session.isAlive = () => {
      const was = alive;
      alive = false;
      return was;
    };
    ws.on('message', (data, isBinary) => {
      alive = true; // any message proves liveness too, in case a client's WebSocket does not answer pings
      session.handle(data, isBinary);
    });
    // ws reports protocol violations (oversized message, bad UTF-8) here and then closes the socket.
    ws.on('error', () => {});
    ws.on('close', () => {
      this.sessions.delete(session);
      session.closed();
    });
  }

  private pingAll(): void {
    for (const session of this.sessions) session.heartbeat();
  }

  private pull(session: Session, requestId: string): void {
    if (this.pulling) {
      return session.sendError('PULL_IN_PROGRESS', 'a model download is already running', { requestId });
    }
    const controller = new AbortController();
    this.pulling = controller;
    let lastSent = 0;
    const onProgress = (p: PullProgress): void => {
      const now = Date.now();
      if (now - lastSent < PULL_PROGRESS_INTERVAL_MS && p.receivedBytes !== p.totalBytes) return;
      lastSent = now;
      session.send({ type: 'models.progress', requestId, ...p });
    };
    this.models
      .pull(onProgress, controller.signal)
      .then(async (models) => {
        await this.afterPull(this);
        session.send({ type: 'models.done', requestId, models });
      })
      .catch((err: unknown) => {
        session.sendError('DOWNLOAD_FAILED', err instanceof Error ? err.message : String(err), { requestId });
      })
      .finally(() => {
        this.pulling = null;
      });
  }
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
