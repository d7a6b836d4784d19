/** Everything `serve` can set, with safe defaults in one place, validated before anything listens. */
import { DEFAULT_LIMITS, DEFAULT_PORT, FRAME_HEADER_BYTES, MAX_CHUNK_BYTES, type Limits } from '../../protocol';

export interface ServerOptions {
  /** Loopback only: the daemon never listens beyond the machine. */
  readonly host: '127.0.0.1' | '::1';
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly token: string;
  readonly limits: Limits;
  /** A connection that has not sent a valid `hello` by then is closed (4408). */
  readonly helloTimeoutMs: number;
  readonly maxConnections: number;
  /** Failed pairings allowed per window before every `hello` is refused for the rest of it. */
  readonly pairing: { readonly maxFailures: number; readonly windowMs: number };
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
  helloTimeoutMs: 10_000,
  maxConnections: 16,
  pairing: { maxFailures: 5, windowMs: 60_000 },
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
  positiveInt('pairing.maxFailures', options.pairing.maxFailures);
  positiveInt('pairing.windowMs', options.pairing.windowMs);
  positiveInt('maxBufferedBytes', options.maxBufferedBytes);
  return options;
}
