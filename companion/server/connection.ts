/**
 * One WebSocket connection: pairing, uploads, and the dispatch of its control messages. Every
 * message is answered or refused with a stable code; nothing a client sends can throw past here.
 * Before pairing a connection may send only small text frames; the server keeps it in its unpaired pool.
 */
import { randomInt, randomUUID } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import {
  CLOSE_CODES, decodeFrame, encodeImageFrames, FrameKind, majorOf, parseClientMessage, PROTOCOL_VERSION, ProtocolError,
  Reassembler, type ClientMessage, type ErrorCode, type ErrorMessage, type Generate, type ModelSets, type ServerMessage, type Welcome,
} from '../../protocol';
import type { EngineStatus, GenerationRequest, RgbaImage } from '../engine/engine';
import type { PairingBackoff } from './auth';
import type { Credentials } from './credentials';
import type { Job, JobRunner, JobSink } from './jobs';
import type { ServerOptions } from './options';
import type { PresetMessage, PresetPeer } from './presets';

/** What a connection needs from the daemon around it. */
export interface DaemonContext {
  readonly options: ServerOptions;
  readonly credentials: Credentials;
  readonly backoff: PairingBackoff;
  readonly runner: JobRunner;
  engineStatus(): EngineStatus;
  /** The engine's verdict on a request before it queues: null to accept, else the refusal. */
  admit(request: GenerationRequest): { readonly code: ErrorCode; readonly message: string } | null;
  /** Synchronous, so no later message of the same connection can overtake the `welcome`. */
  welcome(): Welcome;
  pullModels(connection: Connection, requestId: string): void;
  /** `modelSets`: the sets this daemon can run and the current one. */
  modelSets(): ModelSets;
  /** Switches the model set, answering `modelSets` or an error (MODEL_SET_BUSY, UNKNOWN_MODEL_SET, MODEL_SET_UNUSABLE). */
  selectModelSet(connection: Connection, requestId: string, id: string): void;
  /** Answers a preset message (server/presets.ts). */
  presets(connection: Connection, message: PresetMessage): void;
  /** Moves a connection from the unpaired pool to the paired ones; false when those are full. */
  promote(connection: Connection): boolean;
  /** Closes the live connections of a revoked panel. */
  revoked(panelId: string): void;
  /** Whether the RGBA bytes of every connection's pending uploads leave room for `bytes` more. */
  reserveUpload(bytes: number): boolean;
  releaseUpload(bytes: number): void;
}

type ErrorExtra = Pick<ErrorMessage, 'jobId' | 'requestId' | 'transferId'>;

const WS_OPEN = 1;
/** Random seeds stay below 2^48 − 1 so that seed + variation is always an exact integer. */
const RANDOM_SEED_BOUND = 2 ** 48 - 1; // randomInt takes max ≤ 2^48 − 1

/** Most text messages a connection may send before pairing (a panel sends one: hello). */
const PRE_AUTH_MESSAGES = 4;
/** Style images wider than this many times their height (or taller) are refused: CLIP's resize would blow them up. */
export const MAX_ASPECT_RATIO = 16;

export class Connection implements JobSink, PresetPeer {
  private authenticated = false;
  /** Set once the connection is being refused (wrong token waiting out its backoff, or closing): it reads nothing more. */
  private refusing = false;
  private preAuthMessages = 0;
  /** The paired panel this connection speaks for. */
  panelId: string | undefined;
  /** Bytes reserved in the daemon's upload budget for this connection's complete and open uploads. */
  private reservedBytes = 0;
  private readonly reservations = new Map<number, number>();
  readonly openedAt = Date.now();
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
      this.refuse(CLOSE_CODES.HELLO_TIMEOUT, 'hello timeout');
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

  /** Pushed out of a full unpaired pool. */
  evict(): void {
    this.sendError('HELLO_TIMEOUT', 'too many connections waiting to pair; this one waited longest');
    this.refusing = true;
    clearTimeout(this.helloTimer);
    this.ws.terminate();
  }

  /** Paired: the socket's message limit goes up to the full protocol size. */
  lift(raise: (ws: WebSocket) => void): void {
    raise(this.ws);
  }

  /** Whether the connection is waiting out a refusal (such sockets are evicted first from the unpaired pool). */
  get isRefusing(): boolean {
    return this.refusing;
  }

  /**
   * Ends a connection the daemon refuses: a close frame, then termination a moment later whatever the
   * client does, so a refused socket never lingers in the pool waiting for its closing handshake.
   */
  refuse(code: number, reason: string): void {
    this.refusing = true;
    clearTimeout(this.helloTimer);
    if (this.connected) this.ws.close(code, reason);
    setTimeout(() => this.ws.terminate(), 250).unref();
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
    this.sendImages(kind, [image], ([transferId]) => announce(transferId!));
  }

  /** Sends several images after one message that names their transfer ids. */
  sendImages(kind: FrameKind, images: readonly RgbaImage[], announce: (transferIds: readonly number[]) => ServerMessage): void {
    if (!this.connected) return;
    const ids = images.map(() => {
      const id = this.nextTransferId;
      this.nextTransferId = this.nextTransferId >= 0xffffffff ? 1 : this.nextTransferId + 1; // 0 is never an id
      return id;
    });
    this.send(announce(ids));
    images.forEach((image, i) => {
      for (const frame of encodeImageFrames(kind, ids[i]!, image.width, image.height, image.data, this.ctx.options.limits.chunkBytes)) this.ws.send(frame);
    });
    this.checkBacklog();
  }

  /** Takes a complete upload out of this connection (an unfinished one under that id is dropped). */
  takeUpload(transferId: number): RgbaImage | undefined {
    const image = this.uploads.get(transferId);
    this.uploads.delete(transferId);
    this.reassembler.abort(transferId);
    this.release(transferId);
    return image;
  }

  /** Entry point for every WebSocket message. */
  handle(data: RawData, isBinary: boolean): void {
    if (this.refusing) return;
    try {
      const size = Array.isArray(data) ? data.reduce((n, b) => n + b.byteLength, 0) : data.byteLength;
      if (!this.authenticated && !this.preAuthAllowed(size, isBinary)) return;
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (isBinary) this.onBinary(bytes);
      else this.onText(bytes.toString('utf8'));
    } catch (err) {
      this.internal(err);
    }
  }

  /** Before pairing only a few small text frames are read; anything else ends the connection unparsed. */
  private preAuthAllowed(size: number, isBinary: boolean): boolean {
    const { preAuthMaxBytes } = this.ctx.options;
    let why: string | undefined;
    if (isBinary) why = 'binary frames need pairing first: send hello with the pairing token';
    else if (size > preAuthMaxBytes) why = `messages before pairing are limited to ${preAuthMaxBytes} bytes (got ${size})`;
    else if (++this.preAuthMessages > PRE_AUTH_MESSAGES) why = `more than ${PRE_AUTH_MESSAGES} messages before pairing`;
    if (why === undefined) return true;
    this.sendError('NOT_AUTHENTICATED', why);
    this.refuse(CLOSE_CODES.BAD_TOKEN, 'not paired');
    return false;
  }

  /** The socket closed: its jobs are cancelled and its buffers freed. */
  closed(): void {
    clearTimeout(this.helloTimer);
    this.ctx.runner.dropClient(this.id);
    this.reassembler.clear();
    this.uploads.clear();
    this.reservations.clear();
    this.ctx.releaseUpload(this.reservedBytes);
    this.reservedBytes = 0;
  }

  private release(transferId: number): void {
    const bytes = this.reservations.get(transferId);
    if (bytes === undefined) return;
    this.reservations.delete(transferId);
    this.reservedBytes -= bytes;
    this.ctx.releaseUpload(bytes);
  }

  private internal(err: unknown): void {
    if (err instanceof ProtocolError) return this.sendError(err.code, err.message);
    // A stack overflow or allocation failure comes from the size or shape of what the client sent.
    if (err instanceof RangeError) return this.sendError('BAD_MESSAGE', `message refused: ${err.message}`);
    this.sendError('INTERNAL', `internal error: ${err instanceof Error ? err.message : String(err)}`);
  }

  /** A client that stops reading would make the daemon buffer without bound: cut it off instead. */
  private checkBacklog(): void {
    if (this.ws.bufferedAmount > this.ctx.options.maxBufferedBytes) this.ws.terminate();
  }

  private onBinary(bytes: Buffer): void {
    let transferId: number | undefined;
    try {
      const { header } = decodeFrame(bytes);
      transferId = header.transferId;
      const starting = header.chunkIndex === 0;
      if (starting) {
        this.uploads.delete(header.transferId); // a new upload under a used id replaces the old one
        this.reassembler.abort(header.transferId);
        this.release(header.transferId);
        if (this.reassembler.openTransfers + this.uploads.size >= this.ctx.options.limits.maxPendingUploads) {
          throw new ProtocolError('UPLOAD_LIMIT', `more than ${this.ctx.options.limits.maxPendingUploads} uploads pending on this connection`);
        }
        const { width, height } = header;
        // Too large a side is the reassembler's IMAGE_TOO_LARGE; within it, extreme shapes and the shared budget are checked here.
        if (Math.max(width, height) <= this.ctx.options.limits.maxImageSide) {
          if (Math.max(width, height) > MAX_ASPECT_RATIO * Math.min(width, height)) {
            throw new ProtocolError('BAD_IMAGE', `image ${width}×${height} is more than ${MAX_ASPECT_RATIO} times longer than wide; crop it first`);
          }
          if (!this.ctx.reserveUpload(header.totalBytes)) {
            throw new ProtocolError('UPLOAD_LIMIT', 'the companion holds as many uploaded pixels as it will; retry when a job has started');
          }
          this.reservations.set(header.transferId, header.totalBytes);
          this.reservedBytes += header.totalBytes;
        }
      }
      let image;
      try {
        image = this.reassembler.push(bytes);
      } catch (err) {
        if (err instanceof ProtocolError && !this.uploads.has(header.transferId)) this.release(header.transferId); // the transfer was dropped
        throw err;
      }
      if (image) this.uploads.set(image.transferId, { width: image.width, height: image.height, data: image.rgba });
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
      case 'panels.list':
        return this.send(this.panels());
      case 'modelSets.list':
        return this.send(this.ctx.modelSets());
      case 'modelSet.select':
        return this.ctx.selectModelSet(this, message.requestId, message.id);
      case 'presets.list':
      case 'preset.save':
      case 'preset.load':
      case 'preset.delete':
        return this.ctx.presets(this, message);
      case 'panels.revoke':
        if (!this.ctx.credentials.revoke(message.id)) return this.sendError('UNKNOWN_PANEL', `no paired panel has the id ${message.id}`);
        this.send(this.panels());
        return this.ctx.revoked(message.id);
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
      this.refuse(close, code);
    };
    const ours = majorOf(PROTOCOL_VERSION);
    const theirs = majorOf(hello.protocolVersion);
    if (theirs !== ours) {
      const update = theirs < ours ? 'update the Photoshop plugin' : 'update the companion (npm ci && npm start in a newer checkout)';
      return refuse('VERSION_MISMATCH', `the panel speaks protocol ${hello.protocolVersion}, the companion ${PROTOCOL_VERSION}: ${update}`, CLOSE_CODES.VERSION_MISMATCH);
    }
    const verdict = this.ctx.credentials.pair(hello.token, hello.client);
    if (!verdict.ok) {
      // Answered late, one connection at a time: guessing is slow, and nobody else waits for it.
      this.refusing = true;
      clearTimeout(this.helloTimer);
      const delay = this.ctx.backoff.failure();
      setTimeout(() => refuse('BAD_TOKEN', 'the pairing token is wrong, rotated or revoked; copy the one `stylestudio serve` prints', CLOSE_CODES.BAD_TOKEN), delay).unref();
      return;
    }
    if (!this.ctx.promote(this)) {
      return refuse('CONNECTION_LIMIT', `the companion already serves ${this.ctx.options.maxConnections} panels; close one and retry`, CLOSE_CODES.CONNECTION_LIMIT);
    }
    this.authenticated = true;
    this.panelId = verdict.panelId;
    clearTimeout(this.helloTimer);
    const welcome = this.ctx.welcome();
    this.send({ ...welcome, panelId: verdict.panelId, ...(verdict.panelToken === undefined ? {} : { panelToken: verdict.panelToken }) });
  }

  private panels(): ServerMessage {
    return { type: 'panels', panels: this.ctx.credentials.list().map((p) => ({ ...p, self: p.id === this.panelId })) };
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
      this.release(transferId); // the job holds the pixels from here on; the queue bounds how many jobs exist
      return image;
    };
    // One upload may serve several roles (a layer that is the style and the one restyled, a reference twice).
    const taken = new Map<number, RgbaImage | undefined>();
    const image = (ref: { transferId: number } | undefined): RgbaImage | undefined => {
      if (ref === undefined) return undefined;
      if (!taken.has(ref.transferId)) taken.set(ref.transferId, take(ref.transferId));
      return taken.get(ref.transferId);
    };
    const style = image(params.style);
    const negativeRef = params.negativeStyle?.transferId;
    const negativeImage = image(params.negativeStyle);
    const initRef = params.init?.transferId;
    const initImage = image(params.init);
    const maskRef = params.mask?.transferId;
    const maskImage = image(params.mask);
    const extraStyles = (params.extraStyles ?? []).map((e) => ({ ref: e.image.transferId, image: image(e.image), weight: e.weight }));
    const extraNegatives = (params.extraNegativeStyles ?? []).map((e) => ({ ref: e.transferId, image: image(e) }));

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
    if (initRef !== undefined && initImage === undefined) {
      return refuse('UNKNOWN_IMAGE', `init image transfer ${initRef} is not a complete upload on this connection`);
    }
    if (maskRef !== undefined && maskImage === undefined) {
      return refuse('UNKNOWN_IMAGE', `mask transfer ${maskRef} is not a complete upload on this connection`);
    }
    for (const e of [...extraStyles, ...extraNegatives]) {
      if (e.image === undefined) return refuse('UNKNOWN_IMAGE', `style transfer ${e.ref} is not a complete upload on this connection`);
    }
    const engine = this.ctx.engineStatus();
    if (!engine.ready) return refuse(engine.modelsMissing ? 'MODELS_MISSING' : 'ENGINE_NOT_READY', engine.reason ?? 'the engine is not ready');
    const verdict = this.ctx.runner.queue.admit(this.id);
    if (!verdict.ok) return refuse('QUEUE_FULL', verdict.reason);

    const base = params.seed;
    const seeds = Array.from({ length: params.variations }, (_, k) => (base === null ? randomInt(RANDOM_SEED_BOUND) : base + k));
    // the checked spec with its uploads as pixels and its seeds drawn
    const { seed: _seed, style: _style, negativeStyle: _negative, init: _init, mask: _mask, extraStyles: _extra, extraNegativeStyles: _extraNegative, ...settings } = params;
    const request: GenerationRequest = {
      ...settings, seeds,
      ...(style !== undefined ? { style } : {}),
      ...(negativeImage !== undefined ? { negativeStyle: negativeImage } : {}),
      ...(initImage !== undefined ? { init: initImage } : {}),
      ...(maskImage !== undefined ? { mask: maskImage } : {}),
      ...(extraStyles.length > 0 ? { extraStyles: extraStyles.map((e) => ({ image: e.image!, weight: e.weight })) } : {}),
      ...(extraNegatives.length > 0 ? { extraNegativeStyles: extraNegatives.map((e) => e.image!) } : {}),
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
