/**
 * Who may talk to the daemon: pure checks on the upgrade request (Host, Origin), the constant-time token
 * comparison and the backoff for wrong tokens. The server applies them; nothing here does I/O.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export type UpgradeVerdict = { ok: true } | { ok: false; status: 403; reason: string };

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Splits a Host header into name and port; IPv6 literals keep their brackets. */
function splitHost(host: string): { name: string; port: string | undefined } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(host);
  return m ? { name: m[1]!.toLowerCase(), port: m[2] } : { name: '', port: undefined };
}

/** Origins only browsers send: a page (http/https), an opaque context ("null": sandboxed iframes, file://, data:), extensions. */
const BROWSER_ORIGIN = /^(?:null|https?:|file:|data:|blob:|about:|javascript:|[a-z-]*-extension:)/i;

/**
 * Host must name this machine (defeats DNS rebinding: a rebound domain arrives with its own name).
 * Origin: a missing one (non-browser clients) and UXP's are accepted; every browser Origin (a web page,
 * `null`, an extension) is refused unless listed exactly in `allowedOrigins` (`serve --allow-origin`).
 * UXP's WebSocket Origin is undocumented; plugins that log it see `uxp://<plugin id>` or none, so every
 * other non-browser scheme is accepted too, and the limits before pairing (pool, frame size, backoff)
 * hold for whatever connects.
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
  if (origin !== undefined && !allowedOrigins.includes(origin) && (BROWSER_ORIGIN.test(origin.trim()) || origin.trim() === '')) {
    return { ok: false, status: 403, reason: `browser Origin ${JSON.stringify(origin.slice(0, 200))} is not allowed (serve --allow-origin lists exceptions)` };
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
 * Slows down wrong tokens without slowing anyone else: a wrong `hello` is answered (and its socket closed)
 * only after a delay that doubles with each recent failure, up to `maxMs`; a right token is never delayed.
 * The delay holds one socket of the small unpaired pool, so guessing runs at most pool-size / delay per
 * second, while the panel's correct pairing is answered at once.
 */
export class PairingBackoff {
  private failures: number[] = [];

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records one failure; returns how long to wait before answering it. */
  failure(): number {
    const horizon = this.now() - this.windowMs;
    this.failures = this.failures.filter((t) => t > horizon);
    this.failures.push(this.now());
    if (this.failures.length > 1024) this.failures = this.failures.slice(-1024);
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.min(20, this.failures.length - 1));
  }
}
