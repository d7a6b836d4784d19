/**
 * Who may talk to the daemon: pure checks on the upgrade request (Host, Origin), the token
 * comparison and the failed-attempt limiter. The server applies them; nothing here does I/O.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export type UpgradeVerdict = { ok: true } | { ok: false; status: 403; reason: string };

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Splits a Host header into name and port; IPv6 literals keep their brackets. */
function splitHost(host: string): { name: string; port: string | undefined } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(host);
  return m ? { name: m[1]!.toLowerCase(), port: m[2] } : { name: '', port: undefined };
}

/**
 * Host must name this machine (defeats DNS rebinding: a rebound domain arrives with its own name);
 * a web Origin (http/https) is refused unless listed (defeats cross-site WebSocket hijacking).
 * UXP's Origin is undocumented, so a missing Origin, "null" and non-web schemes are accepted;
 * the token still guards everything after the handshake.
 */
export function checkUpgrade(
  headers: { host?: string | undefined; origin?: string | undefined },
  listeningPort: number,
  allowedOrigins: readonly string[],
): UpgradeVerdict {
  const host = splitHost(headers.host ?? '');
  if (!LOOPBACK_HOSTS.has(host.name)) {
    return { ok: false, status: 403, reason: `Host ${JSON.stringify(headers.host ?? '')} is not a loopback name` };
  }
  if (host.port !== undefined && Number(host.port) !== listeningPort) {
    return { ok: false, status: 403, reason: `Host port ${host.port} is not the listening port ${listeningPort}` };
  }
  const origin = headers.origin;
  if (origin !== undefined && /^https?:/i.test(origin) && !allowedOrigins.includes(origin)) {
    return { ok: false, status: 403, reason: `web Origin ${JSON.stringify(origin)} is not allowed` };
  }
  return { ok: true };
}

/** Constant-time equality of two secrets of any length (hashing first equalises the lengths). */
export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * Counts failed pairings in a sliding window. While `maxFailures` failures lie inside the window,
 * every `hello` is refused without looking at its token, so guessing costs a full window per batch.
 */
export class FailureLimiter {
  private failures: number[] = [];

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  blocked(): boolean {
    this.forgetOld();
    return this.failures.length >= this.maxFailures;
  }

  recordFailure(): void {
    this.forgetOld();
    this.failures.push(this.now());
  }

  private forgetOld(): void {
    const horizon = this.now() - this.windowMs;
    this.failures = this.failures.filter((t) => t > horizon);
  }
}
