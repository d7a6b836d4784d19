/**
 * One WebSocket connection: pairing, uploads, and the dispatch of its control messages. Every
 * message is answered or refused with a stable code; nothing a client sends can throw past here.
 */
import { randomInt, randomUUID } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import {
  CLOSE_CODES, decodeFrame, encodeImageFrames, FrameKind, majorOf, parseClientMessage, PROTOCOL_VERSION, ProtocolError,
  Reassembler, type ClientMessage, type ErrorCode, type ErrorMessage, type Generate, type ServerMessage, type Welcome,
} from '../../protocol';
import type { EngineStatus, GenerationRequest, NegativeStyleInput, RgbaImage } from '../pipeline/engine';
import type { FailureLimiter } from './auth';
import { tokensEqual } from './auth';
import type { Job, JobRunner, JobSink } from './jobs';
import type { ServerOptions } from './options';

/** What a session needs from the daemon around it. */
export interface DaemonContext {
  readonly options: ServerOptions;
  readonly limiter: FailureLimiter;
  readonly runner: JobRunner;
  engineStatus(): EngineStatus;
  /** The engine's verdict on a request before it queues: null to accept, else the refusal. */
  admit(request: GenerationRequest): { readonly code: ErrorCode; readonly message: string } | null;
  /** Synchronous, so no later message of the same connection can overtake the `welcome`. */
  welcome(): Welcome;
  pullModels(session: Session, requestId: string): void;
}

type ErrorExtra = Pick<ErrorMessage, 'jobId' | 'requestId' | 'transferId'>;

const WS_OPEN = 1;
/** Random seeds stay below 2^48 − 1 so that seed + variation is always an exact integer. */
const RANDOM_SEED_BOUND = 2 ** 48 - 1; // randomInt takes max ≤ 2^48 − 1

export class Session implements JobSink {
  private authenticated = false;
  private readonly reassembler: Reassembler;
  /** Complete uploads not yet consumed by a `generate`, by transfer id. */
  private readonly uploads = new Map<number, RgbaImage>();
  private nextTransferId = 1;
  private readonly helloTimer: NodeJS.Timeout;

  constructor(
    readonly id: number,
    private readonly ws: WebSocket,
    private readonly ctx: DaemonContext,
  ) {
    const { limits, helloTimeoutMs } = ctx.options;
    this.reassembler = new Reassembler({ maxImageSide: limits.maxImageSide, maxOpenTransfers: limits.maxPendingUploads, acceptKinds: [FrameKind.upload] });
    this.helloTimer = setTimeout(() => {
      this.sendError('HELLO_TIMEOUT', `no valid hello within ${helloTimeoutMs} ms`);
      this.ws.close(CLOSE_CODES.HELLO_TIMEOUT, 'hello timeout');
    }, helloTimeoutMs);
  }

  /** Set by the server: true if a pong arrived since the last heartbeat. */
  isAlive: () => boolean = () => true;

  /** Pings the client; a client that did not answer the previous ping is dropped. */
  heartbeat(): void {
    if (!this.isAlive()) return this.ws.terminate();
    if (this.connected) this.ws.ping();
  }

  terminate(code: number, reason: string): void {
    if (this.connected) this.ws.close(code, reason);
    else this.ws.terminate();
  }

  get connected(): boolean {
    return this.ws.readyState === WS_OPEN;
  }

  get isAuthenticated(): boolean {
    return this.authenticated;
  }

  send(message: ServerMessage): void {
    if (!this.connected) return;
    this.ws.send(JSON.stringify(message));
    this.checkBacklog();
  }

  sendError(code: ErrorCode, message: string, extra: ErrorExtra = {}): void {
    this.send({ type: 'error', code, message, ...extra });
  }

  sendImage(kind: FrameKind, image: RgbaImage, announce: (transferId: number) => ServerMessage): void {
    if (!this.connected) return;
    const transferId = this.nextTransferId;
    this.nextTransferId = this.nextTransferId >= 0xffffffff ? 1 : this.nextTransferId + 1;
    const frames = encodeImageFrames(kind, transferId, image.width, image.height, image.rgba, this.ctx.options.limits.chunkBytes);
    this.send(announce(transferId));
    for (const frame of frames) this.ws.send(frame);
    this.checkBacklog();
  }

  /** Entry point for every WebSocket message. */
  handle(data: RawData, isBinary: boolean): void {
    try {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (isBinary) this.onBinary(bytes);
      else this.onText(bytes.toString('utf8'));
    } catch (err) {
      this.internal(err);
    }
  }

  /** The socket closed: its jobs are cancelled and its buffers freed. */
  closed(): void {
    clearTimeout(this.helloTimer);
    this.ctx.runner.dropClient(this.id);
    this.reassembler.clear();
    this.uploads.clear();
  }

  private internal(err: unknown): void {
    if (err instanceof ProtocolError) return this.sendError(err.code, err.message);
    this.sendError('INTERNAL', `internal error: ${err instanceof Error ? err.message : String(err)}`);
  }

  /** A client that stops reading would make the daemon buffer without bound: cut it off instead. */
  private checkBacklog(): void {
    if (this.ws.bufferedAmount > this.ctx.options.maxBufferedBytes) this.ws.terminate();
  }

  private onBinary(bytes: Buffer): void {
    if (!this.authenticated) return this.sendError('NOT_AUTHENTICATED', 'send hello with the pairing token first');
    let transferId: number | undefined;
    try {
      const { header } = decodeFrame(bytes);
      transferId = header.transferId;
      const starting = header.chunkIndex === 0;
      if (starting) this.uploads.delete(header.transferId); // a new upload under a used id replaces the old one
      if (starting && this.reassembler.openTransfers + this.uploads.size >= this.ctx.options.limits.maxPendingUploads) {
        throw new ProtocolError('UPLOAD_LIMIT', `more than ${this.ctx.options.limits.maxPendingUploads} uploads pending on this connection`);
      }
      const image = this.reassembler.push(bytes);
      if (image) this.uploads.set(image.transferId, { width: image.width, height: image.height, rgba: image.rgba });
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.sendError(err.code, err.message, transferId === undefined ? {} : { transferId });
    }
  }

  private onText(text: string): void {
    const parsed = parseClientMessage(text);
    if (!parsed.ok) {
      return this.sendError(parsed.code, parsed.message, parsed.requestId === undefined ? {} : { requestId: parsed.requestId });
    }
    const message: ClientMessage = parsed.message;
    if (message.type === 'hello') return this.onHello(message);
    if (!this.authenticated) return this.sendError('NOT_AUTHENTICATED', 'send hello with the pairing token first');
    switch (message.type) {
      case 'generate':
        return this.onGenerate(message);
      case 'cancel':
        if (!this.ctx.runner.cancel(this.id, message.jobId)) {
          // No `jobId` field: that field marks the error that ends a job, and this job has ended already (or never was).
          this.sendError('UNKNOWN_JOB', `no job ${message.jobId} of this connection is waiting or running`);
        }
        return;
      case 'status':
        return this.send(this.status());
      case 'models.pull':
        return this.ctx.pullModels(this, message.requestId);
      case 'ping':
        return this.send(message.nonce === undefined ? { type: 'pong' } : { type: 'pong', nonce: message.nonce });
      default: {
        const unreachable: never = message;
        return unreachable;
      }
    }
  }

  private onHello(hello: Extract<ClientMessage, { type: 'hello' }>): void {
    if (this.authenticated) return this.sendError('ALREADY_AUTHENTICATED', 'this connection is already paired');
    const refuse = (code: ErrorCode, message: string, close: number): void => {
      this.sendError(code, message);
      this.ws.close(close, code);
    };
    if (this.ctx.limiter.blocked()) {
      return refuse('RATE_LIMITED', 'too many failed pairing attempts; wait a minute and try again', CLOSE_CODES.RATE_LIMITED);
    }
    const ours = majorOf(PROTOCOL_VERSION);
    const theirs = majorOf(hello.protocolVersion);
    if (theirs !== ours) {
      const update = theirs < ours ? 'update the Photoshop plugin' : 'update the companion (npm ci && npm start in a newer checkout)';
      return refuse('VERSION_MISMATCH', `the panel speaks protocol ${hello.protocolVersion}, the companion ${PROTOCOL_VERSION}: ${update}`, CLOSE_CODES.VERSION_MISMATCH);
    }
    if (!tokensEqual(hello.token, this.ctx.options.token)) {
      this.ctx.limiter.recordFailure();
      return refuse('BAD_TOKEN', 'the pairing token is wrong; copy it from the `stylestudio serve` output', CLOSE_CODES.BAD_TOKEN);
    }
    this.authenticated = true;
    clearTimeout(this.helloTimer);
    this.send(this.ctx.welcome());
  }

  private onGenerate(message: Generate): void {
    const { requestId, params } = message;
    const { limits } = this.ctx.options;
    const refuse = (code: ErrorCode, text: string): void => this.sendError(code, text, { requestId });
    // Uploads named by this request are consumed whatever happens, so refused requests leak nothing.
    const take = (transferId: number): RgbaImage | undefined => {
      const image = this.uploads.get(transferId);
      this.uploads.delete(transferId);
      this.reassembler.abort(transferId); // an unfinished upload named here will never be usable
      return image;
    };
    const negativeRef = params.negativeStyle.kind === 'image' ? params.negativeStyle.image.transferId : undefined;
    const style = params.style === undefined ? undefined : take(params.style.transferId);
    const negativeImage = negativeRef === undefined ? undefined : negativeRef === params.style?.transferId ? style : take(negativeRef);

    if (params.prompt.length > limits.maxPromptLength || (params.negativePrompt?.length ?? 0) > limits.maxPromptLength) {
      return refuse('PROMPT_TOO_LONG', `prompts are limited to ${limits.maxPromptLength} characters`);
    }
    if (params.width > limits.maxImageSide || params.height > limits.maxImageSide) {
      return refuse('IMAGE_TOO_LARGE', `${params.width}×${params.height} exceeds the ${limits.maxImageSide}-pixel side limit`);
    }
    if (params.steps > limits.maxSteps) return refuse('BAD_MESSAGE', `generate: params.steps: at most ${limits.maxSteps}`);
    if (params.variations > limits.maxVariations) return refuse('BAD_MESSAGE', `generate: params.variations: at most ${limits.maxVariations}`);
    if (params.style !== undefined && style === undefined) {
      return refuse('UNKNOWN_IMAGE', `style transfer ${params.style.transferId} is not a complete upload on this connection`);
    }
    if (negativeRef !== undefined && negativeImage === undefined) {
      return refuse('UNKNOWN_IMAGE', `negative style transfer ${negativeRef} is not a complete upload on this connection`);
    }
    if (params.negativeStyle.kind === 'drop' && style === undefined) {
      return refuse('BAD_MESSAGE', 'generate: params.negativeStyle: a drop preset needs a style image');
    }
    const engine = this.ctx.engineStatus();
    if (!engine.ready) return refuse(engine.modelsMissing ? 'MODELS_MISSING' : 'ENGINE_NOT_READY', engine.reason ?? 'the engine is not ready');
    const verdict = this.ctx.runner.queue.admit(this.id);
    if (!verdict.ok) return refuse('QUEUE_FULL', verdict.reason);

    const base = params.seed;
    const seeds = Array.from({ length: params.variations }, (_, k) => (base === null ? randomInt(RANDOM_SEED_BOUND) : base + k));
    const negativeStyle: NegativeStyleInput =
      params.negativeStyle.kind === 'image' ? { kind: 'image', image: negativeImage! } : params.negativeStyle;
    const request: GenerationRequest = {
      prompt: params.prompt, negativePrompt: params.negativePrompt, style, negativeStyle,
      crossModalAdain: params.crossModalAdain, adainStrength: params.adainStrength, scale: params.scale,
      teacher: params.teacher, teacherSteps: params.teacherSteps, guidance: params.guidance, steps: params.steps,
      seeds, width: params.width, height: params.height, scheduler: params.scheduler,
      styleLayers: params.styleLayers, styleResize: params.styleResize,
    };
    const refused = this.ctx.admit(request);
    if (refused) return refuse(refused.code, refused.message);
    const job: Job = {
      id: randomUUID(), clientId: this.id, requestId, request, sink: this,
      abort: new AbortController(), step: 0, total: params.steps * params.variations,
    };
    this.ctx.runner.submit(job, (position) => this.send({ type: 'accepted', requestId, jobId: job.id, position }));
  }

  private status(): ServerMessage {
    const queue = this.ctx.runner.queue;
    const running = queue.running;
    return {
      type: 'status',
      queue: {
        length: queue.waitingCount,
        max: queue.maxTotal,
        mine: queue.waitingJobs().filter((j) => j.clientId === this.id).map((j) => ({ jobId: j.id, position: queue.positionOf(j.id)! })),
      },
      running: running && { jobId: running.id, mine: running.clientId === this.id, step: running.step, total: running.total },
    };
  }
}
