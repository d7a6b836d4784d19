export interface BackoffOptions {
  /** Wait before the first retry. */
  readonly initialMs: number;
  /** Cap on the wait between retries. */
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 15_000 };

/** Wait before reconnect attempt `attempt` (1-based): doubling from initialMs, capped at maxMs. */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be a positive integer, got ${attempt}`);
  return Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt - 1, 30));
}
