/**
 * Bounded FIFO of jobs: at most one running, the rest waiting in arrival order. Pure bookkeeping,
 * no I/O, so every transition can be checked on its own (`assertConsistent`).
 */

export interface QueueEntry {
  readonly id: string;
  readonly clientId: number;
}

export type AdmitVerdict = { ok: true } | { ok: false; reason: string };

export class JobQueue<J extends QueueEntry> {
  private readonly waiting: J[] = [];
  private current: J | null = null;

  constructor(
    readonly maxTotal: number,
    readonly maxPerClient: number,
  ) {}

  get running(): J | null {
    return this.current;
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  /** Whether one more job of this client fits (waiting + running count against both caps). */
  admit(clientId: number): AdmitVerdict {
    const total = this.waiting.length + (this.current ? 1 : 0);
    if (total >= this.maxTotal) return { ok: false, reason: `the queue holds its maximum of ${this.maxTotal} jobs` };
    if (this.jobsOf(clientId).length >= this.maxPerClient) {
      return { ok: false, reason: `this connection already has its maximum of ${this.maxPerClient} jobs` };
    }
    return { ok: true };
  }

  /** Appends a job; returns how many jobs are ahead of it (0 when it can start at once). */
  add(job: J): number {
    const verdict = this.admit(job.clientId);
    if (!verdict.ok) throw new Error(verdict.reason);
    if (this.find(job.id)) throw new Error(`job ${job.id} is already queued`);
    this.waiting.push(job);
    return this.waiting.length - 1 + (this.current ? 1 : 0);
  }

  /** Moves the oldest waiting job to running; undefined when something runs or nothing waits. */
  startNext(): J | undefined {
    if (this.current) return undefined;
    const next = this.waiting.shift();
    if (next) this.current = next;
    return next;
  }

  /** Clears the running slot; the id must be the running job. */
  finish(id: string): void {
    if (this.current?.id !== id) throw new Error(`job ${id} is not the running job`);
    this.current = null;
  }

  /** Removes a waiting job; false when it is not waiting (running, finished or unknown). */
  removeWaiting(id: string): boolean {
    const i = this.waiting.findIndex((j) => j.id === id);
    if (i < 0) return false;
    this.waiting.splice(i, 1);
    return true;
  }

  find(id: string): J | undefined {
    if (this.current?.id === id) return this.current;
    return this.waiting.find((j) => j.id === id);
  }

  /** Jobs ahead of a waiting job (the running one counts), or undefined when it is not waiting. */
  positionOf(id: string): number | undefined {
    const i = this.waiting.findIndex((j) => j.id === id);
    return i < 0 ? undefined : i + (this.current ? 1 : 0);
  }

  /** This client's jobs, running first, then waiting in order. */
  jobsOf(clientId: number): J[] {
    const mine = this.waiting.filter((j) => j.clientId === clientId);
    return this.current?.clientId === clientId ? [this.current, ...mine] : mine;
  }

  waitingJobs(): readonly J[] {
    return this.waiting;
  }

  /** Throws if the bookkeeping broke an invariant (used by tests and after every transition in debug runs). */
  assertConsistent(): void {
    const ids = this.waiting.map((j) => j.id).concat(this.current ? [this.current.id] : []);
    if (new Set(ids).size !== ids.length) throw new Error('a job id appears twice in the queue');
    if (ids.length > this.maxTotal) throw new Error(`queue holds ${ids.length} jobs, above its cap ${this.maxTotal}`);
  }
}
