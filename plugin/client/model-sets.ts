/**
 * The companion's model sets (`modelSets.list`, `modelSet.select`): the last list it sent, and selections awaiting
 * their answer. A selection resolves with the new list or rejects with the companion's code (MODEL_SET_BUSY, …).
 */
import { CodedError, type ErrorCode, type ModelSets, type ServerMessage } from '../../protocol';

export class ModelSetSelectionError extends CodedError<ErrorCode | 'NOT_CONNECTED' | 'DISCONNECTED'> {
  override readonly name = 'ModelSetSelectionError';
}

export class ModelSetBook {
  private last: ModelSets | null = null;
  private readonly listeners = new Set<(sets: ModelSets) => void>();
  private readonly pending = new Map<string, { resolve: (sets: ModelSets) => void; reject: (e: ModelSetSelectionError) => void }>();
  private nextId = 1;

  constructor(private readonly send: (message: object) => boolean) {}

  get current(): ModelSets | null {
    return this.last;
  }

  subscribe(listener: (sets: ModelSets) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  select(id: string): Promise<ModelSets> {
    const requestId = `set-${this.nextId++}`;
    return new Promise((resolve, reject) => {
      if (!this.send({ type: 'modelSet.select', requestId, id })) {
        reject(new ModelSetSelectionError('NOT_CONNECTED', 'Not connected to the companion.'));
        return;
      }
      this.pending.set(requestId, { resolve, reject });
    });
  }

  /** Takes the messages that concern model sets; false for everything else. */
  receive(msg: ServerMessage): boolean {
    if (msg.type === 'modelSets') {
      this.last = msg;
      for (const listener of [...this.listeners]) listener(msg);
      const waiting = msg.requestId === undefined ? undefined : this.pending.get(msg.requestId);
      if (waiting) {
        this.pending.delete(msg.requestId!);
        waiting.resolve(msg);
      }
      return true;
    }
    if (msg.type === 'error' && msg.requestId !== undefined && this.pending.has(msg.requestId)) {
      const waiting = this.pending.get(msg.requestId)!;
      this.pending.delete(msg.requestId);
      waiting.reject(new ModelSetSelectionError(msg.code, msg.message));
      return true;
    }
    return false;
  }

  /** The connection ended: selections in flight fail, the list is forgotten until the next one arrives. */
  reset(): void {
    this.last = null;
    for (const waiting of this.pending.values()) waiting.reject(new ModelSetSelectionError('DISCONNECTED', 'The connection to the companion was lost.'));
    this.pending.clear();
  }
}
