/**
 * Everything the engine keeps resident (sessions of every network, VAE decoders per size included) lives in one
 * bytes-accounted LRU under one memory budget. A user of an entry holds a lease (pinned: never evicted while held);
 * making room for a new entry releases unpinned entries, least recently used first. What is still pinned when the
 * budget cannot fit a new entry is an admission failure with the figures, never an out-of-memory crash.
 */
import { EngineError } from './errors';

export interface Releasable {
  release(): Promise<void>;
}

export interface ResidentEntry {
  readonly key: string;
  /** What the entry is, for reports: 'text-encoders', 'image-encoder', 'unet', 'vae-decoder', … */
  readonly kind: string;
  /** Accounted bytes (the estimate it was admitted with). */
  readonly bytes: number;
  /** Leases held now. */
  readonly pins: number;
}

/**
 * A held entry: `value` stays resident until `done()`; done() twice is harmless. `done('evict-first')` says the
 * holder is finished with it for a while (a job's conditioning): it becomes the first candidate for release.
 */
export interface Lease<T> {
  readonly value: T;
  done(hint?: 'evict-first'): void;
}

interface Entry {
  readonly key: string;
  readonly kind: string;
  readonly bytes: number;
  pins: number;
  readonly value: Promise<Releasable>;
}

export function formatGiB(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

export class ResidentCache {
  private readonly entries = new Map<string, Entry>(); // iteration order = least recently used first
  /** Entries created so far (shows that requests reuse them). */
  created = 0;
  /** Entries released to make room or on request. */
  evicted = 0;
  private readonly listeners = new Set<(e: { kind: 'created' | 'released'; entry: ResidentEntry }) => void>();

  constructor(private budgetBytes: number) {
    if (!(budgetBytes > 0)) throw new EngineError('BAD_BUDGET', `memory budget must be positive, got ${budgetBytes}`);
  }

  get budget(): number {
    return this.budgetBytes;
  }

  get accountedBytes(): number {
    let sum = 0;
    for (const e of this.entries.values()) sum += e.bytes;
    return sum;
  }

  /** Entries in LRU order (least recently used first). */
  list(): ResidentEntry[] {
    return [...this.entries.values()].map(({ key, kind, bytes, pins }) => ({ key, kind, bytes, pins }));
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Observes creations and releases (benchmarks and tests count them). */
  onChange(f: (e: { kind: 'created' | 'released'; entry: ResidentEntry }) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  /** Bytes that pinned entries hold: what no eviction can free. */
  get pinnedBytes(): number {
    let sum = 0;
    for (const e of this.entries.values()) if (e.pins > 0) sum += e.bytes;
    return sum;
  }

  /**
   * A lease on `key`, creating it with `create()` when absent. A new entry first makes room: unpinned entries are
   * released, least recently used first, until `bytes` fit the budget; if pinned entries alone leave too little,
   * throws EngineError MEMORY_BUDGET naming the figures.
   */
  async lease<T extends Releasable>(key: string, kind: string, bytes: number, create: () => Promise<T>): Promise<Lease<T>> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      hit.pins++;
      try {
        return this.leaseOf(hit, (await hit.value) as T);
      } catch (e) {
        hit.pins--;
        throw e;
      }
    }
    // The entry is registered before any await, so a concurrent lease of the same key shares this creation.
    const entry: Entry = { key, kind, bytes, pins: 1, value: Promise.resolve(null as unknown as Releasable) };
    this.entries.set(key, entry);
    const value = (async () => {
      await this.makeRoom(0, kind, entry);
      return create();
    })();
    (entry as { value: Promise<Releasable> }).value = value;
    let created: T;
    try {
      created = await value;
    } catch (e) {
      if (this.entries.get(key) === entry) this.entries.delete(key);
      throw e;
    }
    this.created++;
    this.emit('created', entry);
    return this.leaseOf(entry, created);
  }

  private leaseOf<T>(entry: Entry, value: T): Lease<T> {
    let held = true;
    return {
      value,
      done: (hint) => {
        if (!held) return;
        held = false;
        entry.pins--;
        if (hint === 'evict-first' && entry.pins === 0 && this.entries.get(entry.key) === entry) {
          const rest = [...this.entries.values()].filter((e) => e !== entry);
          this.entries.clear();
          for (const e of [entry, ...rest]) this.entries.set(e.key, e);
        }
      },
    };
  }

  /** Whether entries of these sizes could be resident together (with nothing else pinned). */
  fits(bytes: readonly number[]): boolean {
    return bytes.reduce((a, b) => a + b, 0) <= this.budgetBytes;
  }

  /**
   * Releases unpinned entries (LRU first) until `bytes` more fit (with `entry`, already accounted, being the one
   * room is made for); throws MEMORY_BUDGET when pins prevent it.
   */
  async makeRoom(bytes: number, kind: string, entry?: Entry): Promise<void> {
    for (const e of [...this.entries.values()]) {
      if (this.accountedBytes + bytes <= this.budgetBytes) break;
      if (e.pins === 0) await this.remove(e);
    }
    if (this.accountedBytes + bytes > this.budgetBytes) {
      const held = [...this.entries.values()].filter((e) => e.pins > 0 && e !== entry).map((e) => `${e.kind} ${formatGiB(e.bytes)}`).join(', ');
      throw new EngineError('MEMORY_BUDGET',
        `the ${kind} needs ${formatGiB(bytes + (entry?.bytes ?? 0))} but the memory budget is ${formatGiB(this.budgetBytes)}` +
        (held ? ` and ${held} must stay loaded` : '') + ' (raise it with --memory-budget, or use a smaller size)');
    }
  }

  /** Releases `key` now if it is not leased; returns whether it was released. */
  async drop(key: string): Promise<boolean> {
    const e = this.entries.get(key);
    if (!e || e.pins > 0) return false;
    await this.remove(e);
    return true;
  }

  /** Releases every unpinned entry whose kind is in `kinds` (all unpinned entries without a filter). */
  async dropUnpinned(kinds?: readonly string[]): Promise<void> {
    for (const e of [...this.entries.values()]) {
      if (e.pins === 0 && (kinds === undefined || kinds.includes(e.kind))) await this.remove(e);
    }
  }

  /** Changes the budget; entries over it are released at the next lease. */
  setBudget(bytes: number): void {
    if (!(bytes > 0)) throw new EngineError('BAD_BUDGET', `memory budget must be positive, got ${bytes}`);
    this.budgetBytes = bytes;
  }

  /** Releases everything, leased or not (the engine is closing). */
  async clear(): Promise<void> {
    for (const e of [...this.entries.values()]) await this.remove(e);
  }

  private async remove(e: Entry): Promise<void> {
    if (this.entries.get(e.key) !== e) return;
    this.entries.delete(e.key);
    this.evicted++;
    try {
      await (await e.value).release();
    } catch {
      // a failed creation has nothing to release
    }
    this.emit('released', e);
  }

  private emit(kind: 'created' | 'released', e: Entry): void {
    const entry: ResidentEntry = { key: e.key, kind: e.kind, bytes: e.bytes, pins: e.pins };
    for (const f of this.listeners) f({ kind, entry });
  }
}
