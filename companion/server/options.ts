/** Everything `serve` can set, with safe defaults in one place, validated before anything listens. */
import { DEFAULT_LIMITS, DEFAULT_PORT, FRAME_HEADER_BYTES, MAX_CHUNK_BYTES, type Limits } from '../../protocol';

export interface ServerOptions {
  /** Loopback only: the daemon never listens beyond the machine. */
  readonly host: '127.0.0.1' | '::1';
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly token: string;
  readonly limits: Limits;
  /** Where the token and the paired panels live (re-read when changed); undefined: `token` only, in memory. */
  readonly configDir?: string;
  /** A connection that has not paired by then is told HELLO_TIMEOUT and terminated. */
  readonly helloTimeoutMs: number;
  /** Paired connections at most; a pairing beyond it is refused with CONNECTION_LIMIT. */
  readonly maxConnections: number;
  /** Connections not yet paired, kept apart from the paired ones; a new one beyond it evicts the oldest. */
  readonly maxUnpaired: number;
  /** Largest message accepted before pairing (a hello is far smaller); larger ones close the socket unread. */
  readonly preAuthMaxBytes: number;
  /** A wrong token is answered after baseMs × 2^(failures in the window − 1), at most maxMs; a right one at once. */
  readonly pairing: { readonly baseMs: number; readonly maxMs: number; readonly windowMs: number };
  /** Exact web Origins allowed anyway (e.g. a test page); empty by default. */
  readonly allowedOrigins: readonly string[];
  /** A client that leaves this much unsent data queued (not reading) is disconnected. */
  readonly maxBufferedBytes: number;
  readonly companionVersion: string;
}

export const DEFAULT_SERVER_OPTIONS: Omit<ServerOptions, 'token' | 'companionVersion'> = {
  host: '127.0.0.1',
  port: DEFAULT_PORT,
  limits: DEFAULT_LIMITS,
  helloTimeoutMs: 5_000,
  maxConnections: 16,
  maxUnpaired: 8,
  preAuthMaxBytes: 4096,
  pairing: { baseMs: 100, maxMs: 3_000, windowMs: 60_000 },
  allowedOrigins: [],
  maxBufferedBytes: 128 * 1024 * 1024,
};

function positiveInt(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`server option ${name} must be a positive integer, got ${value}`);
}

/** An explicit `undefined` means "not given", not "unset the default". */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Merges and checks options; every problem names the option. */
export function resolveServerOptions(
  given: Partial<Omit<ServerOptions, 'limits'>> & { token: string; companionVersion: string; limits?: Partial<Limits> },
): ServerOptions {
  const options: ServerOptions = {
    ...DEFAULT_SERVER_OPTIONS,
    ...definedOnly(given),
    limits: { ...DEFAULT_LIMITS, ...definedOnly(given.limits ?? {}) },
  } as ServerOptions;
  if (options.host !== '127.0.0.1' && options.host !== '::1') {
    throw new Error(`server option host must be 127.0.0.1 or ::1 (loopback only), got ${String(options.host)}`);
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new Error(`server option port must be an integer 0…65535, got ${options.port}`);
  }
  if (options.token.length < 16) throw new Error('server option token must be at least 16 characters');
  for (const [key, value] of Object.entries(options.limits)) positiveInt(`limits.${key}`, value);
  if (options.limits.chunkBytes > MAX_CHUNK_BYTES) {
    throw new Error(`server option limits.chunkBytes ${options.limits.chunkBytes} exceeds the protocol's ${MAX_CHUNK_BYTES}`);
  }
  if (options.limits.maxPayloadBytes < options.limits.chunkBytes + FRAME_HEADER_BYTES) {
    throw new Error('server option limits.maxPayloadBytes must hold one chunk plus its header');
  }
  if (options.limits.maxJobsPerClient > options.limits.maxQueue) {
    throw new Error('server option limits.maxJobsPerClient must not exceed limits.maxQueue');
  }
  positiveInt('helloTimeoutMs', options.helloTimeoutMs);
  positiveInt('maxConnections', options.maxConnections);
  positiveInt('maxUnpaired', options.maxUnpaired);
  positiveInt('preAuthMaxBytes', options.preAuthMaxBytes);
  positiveInt('pairing.baseMs', options.pairing.baseMs);
  positiveInt('pairing.maxMs', options.pairing.maxMs);
  positiveInt('pairing.windowMs', options.pairing.windowMs);
  if (options.pairing.maxMs >= options.helloTimeoutMs) throw new Error('server option pairing.maxMs must be below helloTimeoutMs');
  positiveInt('maxBufferedBytes', options.maxBufferedBytes);
  return options;
}
