import {
  CLOSE_CODES,
  DEFAULT_PORT,
  FrameKind,
  PROTOCOL_VERSION,
  Reassembler,
  encodeImageFrames,
  majorOf,
  parseServerMessage,
  type ErrorCode,
  type GenerateInput,
  type ServerMessage,
  type Welcome,
} from '../../protocol';
import type { Rgba8Image } from '../host/host';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import { globalSocketFactory, SOCKET_OPEN, type SocketFactory, type SocketLike } from './socket';

/** Why the companion turned the panel away; each needs the user to do something, so no automatic retry. */
export type RefusalCode = 'BAD_TOKEN' | 'VERSION_MISMATCH' | 'RATE_LIMITED' | 'PROTOCOL';

export type ConnectionState =
  | { readonly kind: 'unpaired' }
  | { readonly kind: 'connecting'; readonly attempt: number }
  | { readonly kind: 'ready'; readonly welcome: Welcome }
  /** Nothing answered (daemon not running, wrong port) or the connection dropped; a retry is scheduled. */
  | { readonly kind: 'unreachable'; readonly attempt: number; readonly retryInMs: number }
  | { readonly kind: 'refused'; readonly code: RefusalCode; readonly message: string }
  | { readonly kind: 'disconnected' };

export type JobFailureCode = ErrorCode | 'DISCONNECTED' | 'NOT_CONNECTED';

export type JobOutcome =
  | { readonly kind: 'completed' }
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'failed'; readonly code: JobFailureCode; readonly message: string };

export interface JobProgress {
  readonly step: number;
  readonly total: number;
  readonly variation: number;
  readonly preview: Rgba8Image | null;
}

export interface JobResult {
  readonly index: number;
  readonly seed: number;
  readonly image: Rgba8Image;
}

export interface JobEvents {
  accepted?(jobId: string, position: number): void;
  progress?(progress: JobProgress): void;
  /** The image is handed over and forgotten by the client; the receiver owns it. */
  result(result: JobResult): void;
  /** Called exactly once per submitted job. */
  end(outcome: JobOutcome): void;
}

export interface DownloadProgress {
  readonly model: string;
  readonly file: string;
  readonly receivedBytes: number;
  readonly totalBytes: number;
}

export interface DownloadEvents {
  progress(progress: DownloadProgress): void;
  /** Called exactly once: the download finished (the client then reconnects for a fresh `welcome`) or failed. */
  end(outcome: { kind: 'completed' } | { kind: 'failed'; code: JobFailureCode; message: string }): void;
}

export type NegativeStyleInput =
  | { readonly kind: 'none' }
  | { readonly kind: 'image'; readonly image: Rgba8Image }
  | { readonly kind: 'drop'; readonly preset: 'colour' | 'texture' };

export type GenerateSettings = Omit<GenerateInput['params'], 'style' | 'negativeStyle'>;

export interface SubmitRequest {
  readonly params: GenerateSettings;
  readonly style: Rgba8Image | null;
  readonly negativeStyle: NegativeStyleInput;
}

export interface JobHandle {
  readonly requestId: string;
  /** Asks the companion to stop; the job then ends with `cancelled` (or whatever came first). */
  cancel(): void;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
  now(): number;
}

const defaultTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof globalThis.setTimeout>),
  setInterval: (fn, ms) => globalThis.setInterval(fn, ms),
  clearInterval: (h) => globalThis.clearInterval(h as ReturnType<typeof globalThis.setInterval>),
  now: () => Date.now(),
};

export interface CompanionClientOptions {
  readonly url?: string;
  readonly socketFactory?: SocketFactory;
  readonly backoff?: BackoffOptions;
  readonly timers?: Timers;
  /** Pause sending binary chunks while more than this many bytes wait in the socket (UXP closes on overflow). */
  readonly sendHighWaterBytes?: number;
  /** App-level ping while connected; a connection silent for two intervals is dropped and re-opened. */
  readonly pingIntervalMs?: number;
  readonly clientInfo?: { name: string; version: string };
}

export const DEFAULT_URL = `ws://127.0.0.1:${DEFAULT_PORT}`;

/**
 * Upload pacing: 64 KiB chunks, the next one sent only while at most 192 KiB wait in the socket, so at most
 * 256 KiB are ever in flight (UXP closes a socket whose send buffer fills).
 */
export const UPLOAD_CHUNK_BYTES = 64 * 1024;
export const UPLOAD_HIGH_WATER_BYTES = 192 * 1024;

interface Job {
  readonly requestId: string;
  readonly events: JobEvents;
  jobId: string | null;
  cancelRequested: boolean;
  ended: boolean;
}

interface Announced {
  readonly job: Job;
  readonly kind: 'result' | 'preview';
  readonly index: number;
  readonly seed: number;
  readonly step: number;
  readonly total: number;
  readonly variation: number;
}

function refusalMessage(code: RefusalCode, serverText?: string): string {
  switch (code) {
    case 'BAD_TOKEN':
      return 'The companion did not accept this pairing token. Copy the token that `stylestudio serve` prints and paste it again.';
    case 'VERSION_MISMATCH':
      return serverText ?? 'The companion and this panel speak different protocol versions. Update the older of the two.';
    case 'RATE_LIMITED':
      return 'Too many wrong tokens were tried recently. Wait a minute, then paste the token again.';
    case 'PROTOCOL':
      return serverText ?? 'The companion sent something this panel does not understand. Update both to the same release.';
  }
}

/**
 * The panel's side of protocol v1: pairing, reconnecting with back-off, uploading the style image in
 * throttled chunks, and turning the companion's messages and frames into per-job callbacks.
 */
export class CompanionClient {
  private readonly url: string;
  private readonly socketFactory: SocketFactory;
  private readonly backoff: BackoffOptions;
  private readonly timers: Timers;
  private readonly highWater: number;
  private readonly pingIntervalMs: number;
  private readonly clientInfo: { name: string; version: string };

  private token: string | null = null;
  private socket: SocketLike | null = null;
  private current: ConnectionState = { kind: 'unpaired' };
  private attempt = 0;
  private retryTimer: unknown = null;
  private pingTimer: unknown = null;
  private lastHeardAt = 0;
  private refusal: { code: RefusalCode; message: string } | null = null;
  private readonly listeners = new Set<(state: ConnectionState) => void>();

  private nextRequest = 1;
  private nextTransfer = 1;
  private readonly jobsByRequest = new Map<string, Job>();
  private readonly jobsById = new Map<string, Job>();
  private readonly announced = new Map<number, Announced>();
  private reassembler: Reassembler | null = null;
  private download: { requestId: string; events: DownloadEvents } | null = null;

  constructor(options: CompanionClientOptions = {}) {
    this.url = options.url ?? DEFAULT_URL;
    this.socketFactory = options.socketFactory ?? globalSocketFactory;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.timers = options.timers ?? defaultTimers;
    this.highWater = options.sendHighWaterBytes ?? UPLOAD_HIGH_WATER_BYTES;
    this.pingIntervalMs = options.pingIntervalMs ?? 15_000;
    this.clientInfo = options.clientInfo ?? { name: 'stylestudio-panel', version: '0.1.0' };
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** Number of jobs submitted and not yet ended (for tests and the UI's busy state). */
  get openJobs(): number {
    return this.jobsByRequest.size;
  }

  /** Images announced or partly received and not yet handed over. */
  get pendingImages(): number {
    return this.announced.size + (this.reassembler?.openTransfers ?? 0);
  }

  subscribe(listener: (state: ConnectionState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts (or restarts) connecting with this token. */
  connect(token: string): void {
    const trimmed = token.trim();
    if (trimmed.length === 0) throw new Error('the pairing token is empty');
    this.token = trimmed;
    this.refusal = null;
    this.attempt = 0;
    this.teardown();
    this.open();
  }

  /** Closes the connection and stops reconnecting; open jobs end as failed. */
  disconnect(): void {
    this.token = null;
    this.teardown();
    this.setState({ kind: 'disconnected' });
  }

  /** Uploads the style images, then sends `generate`. Events arrive through `events`. */
  async submit(request: SubmitRequest, events: JobEvents): Promise<JobHandle> {
    const requestId = `r${this.nextRequest++}`;
    const job: Job = { requestId, events, jobId: null, cancelRequested: false, ended: false };
    const handle: JobHandle = { requestId, cancel: () => this.cancelJob(job) };
    const socket = this.socket;
    if (this.current.kind !== 'ready' || !socket) {
      this.finish(job, { kind: 'failed', code: 'NOT_CONNECTED', message: 'Not connected to the companion.' });
      return handle;
    }
    const chunkBytes = Math.min(UPLOAD_CHUNK_BYTES, this.current.welcome.limits.chunkBytes);
    this.jobsByRequest.set(requestId, job);
    try {
      let style: { transferId: number } | undefined;
      if (request.style) style = { transferId: await this.upload(socket, request.style, chunkBytes) };
      let negativeStyle: GenerateInput['params']['negativeStyle'];
      const neg = request.negativeStyle;
      if (neg.kind === 'image') negativeStyle = { kind: 'image', image: { transferId: await this.upload(socket, neg.image, chunkBytes) } };
      else negativeStyle = neg.kind === 'drop' ? { kind: 'drop', preset: neg.preset } : { kind: 'none' };
      if (job.ended) return handle; // the connection dropped during the upload
      const params: GenerateInput['params'] = { ...request.params, negativeStyle, ...(style ? { style } : {}) };
      this.sendJson(socket, { type: 'generate', requestId, params });
    } catch (err) {
      this.finish(job, { kind: 'failed', code: 'DISCONNECTED', message: `Sending the job failed: ${(err as Error).message}` });
    }
    return handle;
  }

  /** Asks the companion to download its missing models (`models.pull`); progress arrives through `events`. */
  pullModels(events: DownloadEvents): void {
    if (this.download) {
      events.end({ kind: 'failed', code: 'PULL_IN_PROGRESS', message: 'A model download is already running.' });
      return;
    }
    if (this.current.kind !== 'ready' || !this.socket) {
      events.end({ kind: 'failed', code: 'NOT_CONNECTED', message: 'Not connected to the companion.' });
      return;
    }
    const requestId = `r${this.nextRequest++}`;
    this.download = { requestId, events };
    this.sendJson(this.socket, { type: 'models.pull', requestId });
  }

  private endDownload(outcome: Parameters<DownloadEvents['end']>[0]): void {
    const d = this.download;
    this.download = null;
    d?.events.end(outcome);
  }

  private cancelJob(job: Job): void {
    if (job.ended || job.cancelRequested) return;
    job.cancelRequested = true;
    // Before `accepted` there is no job id yet; the cancel goes out when it arrives.
    if (job.jobId !== null && this.socket) this.sendJson(this.socket, { type: 'cancel', jobId: job.jobId });
  }

  private async upload(socket: SocketLike, image: Rgba8Image, chunkBytes: number): Promise<number> {
    const transferId = this.nextTransfer++ >>> 0;
    const frames = encodeImageFrames(FrameKind.upload, transferId, image.width, image.height, image.data, chunkBytes);
    for (const frame of frames) {
      await this.drain(socket);
      // A whole ArrayBuffer is the most widely supported binary payload (UXP documents ArrayBuffer first).
      const whole = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength ? frame : frame.slice();
      socket.send(whole.buffer as ArrayBuffer);
    }
    return transferId;
  }

  /** Waits until the socket's send buffer is below the high-water mark. */
  private async drain(socket: SocketLike): Promise<void> {
    while (socket.bufferedAmount > this.highWater) {
      if (socket !== this.socket || socket.readyState !== SOCKET_OPEN) throw new Error('the connection closed');
      await new Promise<void>((resolve) => this.timers.setTimeout(resolve, 10));
    }
    if (socket !== this.socket || socket.readyState !== SOCKET_OPEN) throw new Error('the connection closed');
  }

  private sendJson(socket: SocketLike, message: object): void {
    if (socket.readyState === SOCKET_OPEN) socket.send(JSON.stringify(message));
  }

  private setState(state: ConnectionState): void {
    this.current = state;
    for (const listener of [...this.listeners]) listener(state);
  }

  private open(): void {
    if (this.token === null) return;
    this.attempt++;
    this.setState({ kind: 'connecting', attempt: this.attempt });
    let socket: SocketLike;
    try {
      socket = this.socketFactory(this.url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.binaryType = 'arraybuffer';
    socket.onopen = () => {
      if (socket !== this.socket || this.token === null) return;
      this.lastHeardAt = this.timers.now();
      this.sendJson(socket, { type: 'hello', protocolVersion: PROTOCOL_VERSION, token: this.token, client: this.clientInfo });
    };
    socket.onmessage = (ev) => {
      if (socket === this.socket) this.receive(socket, ev.data);
    };
    socket.onerror = () => undefined; // onclose follows and carries the outcome
    socket.onclose = (ev) => {
      if (socket === this.socket) this.closed(ev.code);
    };
  }

  private closed(code: number): void {
    this.socket = null;
    this.stopPing();
    this.failAllJobs('DISCONNECTED', 'The connection to the companion was lost; the job was stopped.');
    if (!this.refusal) {
      if (code === CLOSE_CODES.BAD_TOKEN) this.refusal = { code: 'BAD_TOKEN', message: refusalMessage('BAD_TOKEN') };
      else if (code === CLOSE_CODES.VERSION_MISMATCH) this.refusal = { code: 'VERSION_MISMATCH', message: refusalMessage('VERSION_MISMATCH') };
      else if (code === CLOSE_CODES.RATE_LIMITED) this.refusal = { code: 'RATE_LIMITED', message: refusalMessage('RATE_LIMITED') };
    }
    if (this.refusal) {
      this.setState({ kind: 'refused', ...this.refusal });
      return;
    }
    if (this.token !== null) this.scheduleRetry();
  }

  private scheduleRetry(): void {
    const retryInMs = backoffDelay(Math.max(1, this.attempt), this.backoff);
    this.setState({ kind: 'unreachable', attempt: this.attempt, retryInMs });
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, retryInMs);
  }

  /** Drops the socket and timers without scheduling anything. */
  private teardown(): void {
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.stopPing();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      try {
        socket.close(1000, 'panel closed the connection');
      } catch {
        // already closed
      }
    }
    this.failAllJobs('DISCONNECTED', 'The connection to the companion was closed.');
  }

  private startPing(socket: SocketLike): void {
    this.stopPing();
    this.pingTimer = this.timers.setInterval(() => {
      if (socket !== this.socket) return;
      if (this.timers.now() - this.lastHeardAt > 2 * this.pingIntervalMs) {
        socket.close(4000, 'companion stopped answering');
        return;
      }
      this.sendJson(socket, { type: 'ping' });
    }, this.pingIntervalMs);
  }

  private stopPing(): void {
    if (this.pingTimer !== null) this.timers.clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private refuse(socket: SocketLike, code: RefusalCode, message: string): void {
    this.refusal = { code, message };
    socket.close(1000, code);
    // Not every socket reports its own close() back; settle the state here as well.
    if (socket === this.socket) this.closed(1000);
  }

  private receive(socket: SocketLike, data: unknown): void {
    this.lastHeardAt = this.timers.now();
    if (typeof data !== 'string') {
      this.receiveBinary(data);
      return;
    }
    const parsed = parseServerMessage(data);
    if (!parsed.ok) {
      // Tolerate what a newer minor version might add; anything unreadable is a bug worth surfacing.
      if (this.current.kind !== 'ready') this.refuse(socket, 'PROTOCOL', `The companion sent an unreadable message (${parsed.message}).`);
      return;
    }
    this.handle(socket, parsed.message);
  }

  private handle(socket: SocketLike, msg: ServerMessage): void {
    switch (msg.type) {
      case 'welcome': {
        if (majorOf(msg.protocolVersion) !== majorOf(PROTOCOL_VERSION)) {
          const older = majorOf(msg.protocolVersion) < majorOf(PROTOCOL_VERSION) ? 'the companion' : 'this panel';
          this.refuse(
            socket,
            'VERSION_MISMATCH',
            `The companion speaks protocol ${msg.protocolVersion}, this panel ${PROTOCOL_VERSION}. Update ${older}.`,
          );
          return;
        }
        this.attempt = 0;
        this.reassembler = new Reassembler({
          maxImageSide: msg.limits.maxImageSide,
          maxOpenTransfers: 2 * msg.limits.maxVariations + 2,
          acceptKinds: [FrameKind.result, FrameKind.preview],
        });
        this.startPing(socket);
        this.setState({ kind: 'ready', welcome: msg });
        return;
      }
      case 'accepted': {
        const job = this.jobsByRequest.get(msg.requestId);
        if (!job) return;
        job.jobId = msg.jobId;
        this.jobsById.set(msg.jobId, job);
        job.events.accepted?.(msg.jobId, msg.position);
        if (job.cancelRequested) this.sendJson(socket, { type: 'cancel', jobId: msg.jobId });
        return;
      }
      case 'progress': {
        const job = this.jobsById.get(msg.jobId);
        if (!job) return;
        if (msg.preview) {
          this.announced.set(msg.preview.transferId, {
            job, kind: 'preview', index: 0, seed: 0, step: msg.step, total: msg.total, variation: msg.variation,
          });
        } else {
          job.events.progress?.({ step: msg.step, total: msg.total, variation: msg.variation, preview: null });
        }
        return;
      }
      case 'result': {
        const job = this.jobsById.get(msg.jobId);
        if (!job) return;
        this.announced.set(msg.transferId, { job, kind: 'result', index: msg.index, seed: msg.seed, step: 0, total: 0, variation: msg.index });
        return;
      }
      case 'done': {
        const job = this.jobsById.get(msg.jobId);
        if (job) this.finish(job, { kind: msg.outcome });
        return;
      }
      case 'models.progress':
        if (this.download?.requestId === msg.requestId) {
          this.download.events.progress({ model: msg.model, file: msg.file, receivedBytes: msg.receivedBytes, totalBytes: msg.totalBytes });
        }
        return;
      case 'models.done':
        if (this.download?.requestId === msg.requestId) {
          this.endDownload({ kind: 'completed' });
          // The engine is rebuilt after a download; a fresh welcome tells whether it is ready now.
          if (this.token !== null) this.connect(this.token);
        }
        return;
      case 'error': {
        if (msg.requestId !== undefined && this.download?.requestId === msg.requestId) {
          this.endDownload({ kind: 'failed', code: msg.code, message: msg.message });
          return;
        }
        const job = (msg.jobId && this.jobsById.get(msg.jobId)) || (msg.requestId && this.jobsByRequest.get(msg.requestId)) || null;
        if (job) {
          this.finish(job, { kind: 'failed', code: msg.code, message: msg.message });
          return;
        }
        if (msg.code === 'BAD_TOKEN' || msg.code === 'VERSION_MISMATCH' || msg.code === 'RATE_LIMITED') {
          this.refuse(socket, msg.code, refusalMessage(msg.code, msg.message));
        }
        return;
      }
      default:
        return; // status, pong: nothing to do in this client yet
    }
  }

  private receiveBinary(data: unknown): void {
    if (!this.reassembler) return;
    // Realm-neutral checks: the socket may hand over buffers from another JS realm (jsdom, iframes).
    const bytes = ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : Object.prototype.toString.call(data) === '[object ArrayBuffer]'
        ? new Uint8Array(data as ArrayBuffer)
        : null;
    if (!bytes) return;
    let image;
    try {
      image = this.reassembler.push(bytes);
    } catch {
      return; // a broken transfer: its job still ends with done/error, which is what the user sees
    }
    if (!image) return;
    const note = this.announced.get(image.transferId);
    this.announced.delete(image.transferId);
    if (!note || note.job.ended) return;
    const rgba: Rgba8Image = { width: image.width, height: image.height, data: image.rgba };
    if (note.kind === 'result') note.job.events.result({ index: note.index, seed: note.seed, image: rgba });
    else note.job.events.progress?.({ step: note.step, total: note.total, variation: note.variation, preview: rgba });
  }

  private finish(job: Job, outcome: JobOutcome): void {
    if (job.ended) return;
    job.ended = true;
    this.jobsByRequest.delete(job.requestId);
    if (job.jobId !== null) this.jobsById.delete(job.jobId);
    for (const [id, note] of this.announced) if (note.job === job) this.announced.delete(id);
    job.events.end(outcome);
  }

  private failAllJobs(code: JobFailureCode, message: string): void {
    if (this.download) this.endDownload({ kind: 'failed', code, message });
    for (const job of [...this.jobsByRequest.values()]) this.finish(job, { kind: 'failed', code, message });
    this.announced.clear();
    this.reassembler?.clear();
  }
}
