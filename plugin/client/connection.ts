/**
 * The connection to the companion: one socket at a time, hello/welcome with the protocol-version check, refusals
 * that need the user (wrong token, version), reconnecting with doubling back-off, and the app-level ping. It knows
 * nothing about jobs or images: every message after `welcome` and every binary frame goes to its `ConnectionSink`.
 */
import { CLOSE_CODES, majorOf, parseServerMessage, PROTOCOL_VERSION, type ServerMessage, type Welcome } from '../../protocol';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import { globalSocketFactory, SOCKET_OPEN, type SocketFactory, type SocketLike } from './socket';

/** Why the companion turned the panel away; each needs the user to do something, so no automatic retry. */
export type RefusalCode = 'BAD_TOKEN' | 'VERSION_MISMATCH' | 'RATE_LIMITED' | 'CONNECTION_LIMIT' | 'PROTOCOL';

export type ConnectionState =
  | { readonly kind: 'unpaired' }
  | { readonly kind: 'connecting'; readonly attempt: number }
  | { readonly kind: 'ready'; readonly welcome: Welcome }
  /** Nothing answered (daemon not running, wrong port) or the connection dropped; a retry is scheduled. */
  | { readonly kind: 'unreachable'; readonly attempt: number; readonly retryInMs: number }
  | { readonly kind: 'refused'; readonly code: RefusalCode; readonly message: string }
  | { readonly kind: 'disconnected' };

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
  now(): number;
}

export const defaultTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof globalThis.setTimeout>),
  setInterval: (fn, ms) => globalThis.setInterval(fn, ms),
  clearInterval: (h) => globalThis.clearInterval(h as ReturnType<typeof globalThis.setInterval>),
  now: () => Date.now(),
};

export interface ConnectionOptions {
  readonly url: string;
  readonly socketFactory?: SocketFactory;
  readonly backoff?: BackoffOptions;
  readonly timers?: Timers;
  /** App-level ping while connected; a connection silent for two intervals is dropped and re-opened. */
  readonly pingIntervalMs?: number;
  readonly clientInfo?: { name: string; version: string };
}

/** Where a connection hands what is not its own business. */
export interface ConnectionSink {
  /** A new socket said welcome: per-connection state (reassembly) starts fresh. */
  welcomed(welcome: Welcome): void;
  /** A message after welcome. Returns true when it was consumed (an error that belonged to a job or download). */
  message(message: ServerMessage): boolean;
  binary(data: unknown): void;
  /** The socket is gone (dropped, refused or closed by us): whatever was in flight on it has failed. */
  lost(reason: 'dropped' | 'closed'): void;
}

function refusalMessage(code: RefusalCode, serverText?: string): string {
  switch (code) {
    case 'BAD_TOKEN':
      return 'The companion did not accept this pairing token (wrong, rotated or revoked). Copy the token that `stylestudio serve` prints and paste it again.';
    case 'VERSION_MISMATCH':
      return serverText ?? 'The companion and this panel speak different protocol versions. Update the older of the two.';
    case 'RATE_LIMITED':
      return 'Too many wrong tokens were tried recently. Wait a minute, then paste the token again.';
    case 'CONNECTION_LIMIT':
      return serverText ?? 'The companion already serves as many panels as it will. Close one, then reconnect.';
    case 'PROTOCOL':
      return serverText ?? 'The companion sent something this panel does not understand. Update both to the same release.';
  }
}

const REFUSAL_BY_CLOSE: ReadonlyMap<number, RefusalCode> = new Map<number, RefusalCode>([
  [CLOSE_CODES.BAD_TOKEN, 'BAD_TOKEN'],
  [CLOSE_CODES.VERSION_MISMATCH, 'VERSION_MISMATCH'],
  [CLOSE_CODES.RATE_LIMITED, 'RATE_LIMITED'],
  [CLOSE_CODES.CONNECTION_LIMIT, 'CONNECTION_LIMIT'],
]);

export class CompanionConnection {
  private readonly socketFactory: SocketFactory;
  private readonly backoff: BackoffOptions;
  readonly timers: Timers;
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

  constructor(
    private readonly options: ConnectionOptions,
    private readonly sink: ConnectionSink,
  ) {
    this.socketFactory = options.socketFactory ?? globalSocketFactory;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.timers = options.timers ?? defaultTimers;
    this.pingIntervalMs = options.pingIntervalMs ?? 15_000;
    this.clientInfo = options.clientInfo ?? { name: 'stylestudio-panel', version: '0.1.0' };
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** The socket while the companion has said welcome on it, else null. */
  get readySocket(): SocketLike | null {
    return this.current.kind === 'ready' ? this.socket : null;
  }

  /** Whether `socket` is still the open, current one (uploads stop when it is not). */
  isCurrent(socket: SocketLike): boolean {
    return socket === this.socket && socket.readyState === SOCKET_OPEN;
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

  /** Reconnects with the current token (e.g. for a fresh welcome after a model download). */
  reconnect(): void {
    if (this.token !== null) this.connect(this.token);
  }

  /** Closes the connection and stops reconnecting. */
  disconnect(): void {
    this.token = null;
    this.teardown();
    this.setState({ kind: 'disconnected' });
  }

  send(message: object): void {
    const socket = this.socket;
    if (socket && socket.readyState === SOCKET_OPEN) socket.send(JSON.stringify(message));
  }

  /** The companion's engine and model list changed under a live connection (a model set switch): the state follows. */
  refreshWelcome(patch: Pick<Welcome, 'models' | 'engine'>): void {
    const state = this.current;
    if (state.kind === 'ready') this.setState({ kind: 'ready', welcome: { ...state.welcome, ...patch } });
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
      socket = this.socketFactory(this.options.url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.binaryType = 'arraybuffer';
    socket.onopen = () => {
      if (socket !== this.socket || this.token === null) return;
      this.lastHeardAt = this.timers.now();
      this.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token: this.token, client: this.clientInfo });
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
    this.sink.lost('dropped');
    const byClose = REFUSAL_BY_CLOSE.get(code);
    if (!this.refusal && byClose) this.refusal = { code: byClose, message: refusalMessage(byClose) };
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
    this.sink.lost('closed');
  }

  private startPing(socket: SocketLike): void {
    this.stopPing();
    this.pingTimer = this.timers.setInterval(() => {
      if (socket !== this.socket) return;
      if (this.timers.now() - this.lastHeardAt > 2 * this.pingIntervalMs) {
        socket.close(4000, 'companion stopped answering');
        return;
      }
      this.send({ type: 'ping' });
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
      if (this.current.kind === 'ready') this.sink.binary(data);
      return;
    }
    const parsed = parseServerMessage(data);
    if (!parsed.ok) {
      // Tolerate what a newer minor version might add; anything unreadable is a bug worth surfacing.
      if (this.current.kind !== 'ready') this.refuse(socket, 'PROTOCOL', `The companion sent an unreadable message (${parsed.message}).`);
      return;
    }
    const msg = parsed.message;
    if (msg.type === 'welcome') return this.welcome(socket, msg);
    if (this.sink.message(msg)) return;
    if (msg.type === 'error' && (msg.code === 'BAD_TOKEN' || msg.code === 'VERSION_MISMATCH' || msg.code === 'RATE_LIMITED' || msg.code === 'CONNECTION_LIMIT')) {
      this.refuse(socket, msg.code, refusalMessage(msg.code, msg.message));
    }
  }

  private welcome(socket: SocketLike, msg: Welcome): void {
    if (majorOf(msg.protocolVersion) !== majorOf(PROTOCOL_VERSION)) {
      const older = majorOf(msg.protocolVersion) < majorOf(PROTOCOL_VERSION) ? 'the companion' : 'this panel';
      this.refuse(socket, 'VERSION_MISMATCH', `The companion speaks protocol ${msg.protocolVersion}, this panel ${PROTOCOL_VERSION}. Update ${older}.`);
      return;
    }
    this.attempt = 0;
    if (msg.panelToken) this.token = msg.panelToken; // reconnects use this panel's own token from now on
    this.sink.welcomed(msg);
    this.startPing(socket);
    this.setState({ kind: 'ready', welcome: msg });
  }
}
