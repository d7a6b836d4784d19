/**
 * WeightStore: the root WeightScope over one checkpoint (one file, or the shards of one), recording which keys
 * a network builder read so it can list the rest and declare what it ignores on purpose.
 *
 *   WeightStore.open(file)                  .safetensors | .safetensors.index.json | .bin/.pt/.pth (torch.save zip)
 *   WeightStore.fromTensors(tensors, what)  any TensorRef list (keys must be unique)
 *   store.child(name) / tensor(name, shape) / has(name)   the WeightScope of tensor.ts
 *   store.get(key)                          a TensorRef without a shape check (does not mark it read)
 *   store.keys() / files                    every key; the realpaths of the files
 *   store.unreadKeys(ignore?)               keys nobody read, minus those matched by `ignore`
 *   store.assertAllRead(ignore?)            throws WeightError listing them
 */
import { WeightError } from './errors';
import { readSafetensors, readShardIndex } from './safetensors';
import type { TensorRef, WeightScope } from './tensor';
import { readTorchBin } from './torch-bin';

/** Keys a builder leaves unread on purpose: exact keys, or patterns (e.g. /\.position_ids$/). */
export type IgnoredKeys = readonly (string | RegExp)[];

export class WeightStore implements WeightScope {
  readonly path = '';
  private readonly tensors: ReadonlyMap<string, TensorRef>;
  private readonly read = new Set<string>();

  private constructor(
    tensors: Map<string, TensorRef>,
    /** What the store was opened from, for messages (a file, or a short description). */
    readonly source: string,
  ) {
    this.tensors = tensors;
  }

  /** Opens a checkpoint by its file name: safetensors, a safetensors shard index, or a torch.save `.bin`. */
  static open(file: string): WeightStore {
    if (file.endsWith('.json')) {
      return WeightStore.fromTensors(readShardIndex(file).flatMap((s) => [...s.tensors.values()]), file);
    }
    if (file.endsWith('.bin') || file.endsWith('.pt') || file.endsWith('.pth')) {
      return WeightStore.fromTensors(readTorchBin(file).tensors.values(), file);
    }
    return WeightStore.fromTensors(readSafetensors(file).tensors.values(), file);
  }

  static fromTensors(tensors: Iterable<TensorRef>, source: string): WeightStore {
    const map = new Map<string, TensorRef>();
    for (const t of tensors) {
      const other = map.get(t.key);
      if (other) throw new WeightError(t.key, `stored twice, in ${other.file} and in ${t.file}`);
      map.set(t.key, t);
    }
    return new WeightStore(map, source);
  }

  get files(): string[] {
    return [...new Set([...this.tensors.values()].map((t) => t.file))];
  }

  keys(): string[] {
    return [...this.tensors.keys()];
  }

  get(key: string): TensorRef | undefined {
    return this.tensors.get(key);
  }

  child(name: string | number): WeightScope {
    return new ScopeView(this, joinKey('', name));
  }

  tensor(name: string, shape: readonly number[]): TensorRef {
    return this.lookup(joinKey('', name), shape);
  }

  has(name: string): boolean {
    return this.tensors.has(joinKey('', name));
  }

  /** Looks a full key up, checks its shape and marks it read (ScopeView delegates here). */
  lookup(key: string, shape: readonly number[]): TensorRef {
    const t = this.tensors.get(key);
    if (!t) throw new WeightError(key, `missing (expected shape [${shape.join(', ')}])${this.hint(key)}`, this.source);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new WeightError(key, `has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`, t.file);
    }
    this.read.add(key);
    return t;
  }

  unreadKeys(ignore: IgnoredKeys = []): string[] {
    return this.keys().filter((k) => !this.read.has(k) && !ignore.some((p) => (typeof p === 'string' ? p === k : p.test(k))));
  }

  assertAllRead(ignore: IgnoredKeys = []): void {
    const unread = this.unreadKeys(ignore);
    if (unread.length === 0) return;
    const shown = unread.slice(0, 20).join(', ');
    throw new WeightError(unread[0] as string,
      `${unread.length} stored tensor(s) were never used by the network: ${shown}${unread.length > 20 ? ', …' : ''}`,
      this.source);
  }

  /** Keys sharing the longest prefix with a missing one: usually shows the naming scheme the file really uses. */
  private hint(key: string): string {
    const parts = key.split('.');
    for (let n = parts.length - 1; n > 0; n--) {
      const prefix = parts.slice(0, n).join('.') + '.';
      const near = this.keys().filter((k) => k.startsWith(prefix));
      if (near.length > 0) {
        return `; keys under "${prefix}" are: ${near.slice(0, 8).join(', ')}${near.length > 8 ? ', …' : ''}`;
      }
    }
    return `; the checkpoint has ${this.tensors.size} tensors, e.g. ${this.keys().slice(0, 5).join(', ')}`;
  }
}

class ScopeView implements WeightScope {
  constructor(
    private readonly store: WeightStore,
    readonly path: string,
  ) {}

  child(name: string | number): WeightScope {
    return new ScopeView(this.store, joinKey(this.path, name));
  }

  tensor(name: string, shape: readonly number[]): TensorRef {
    return this.store.lookup(joinKey(this.path, name), shape);
  }

  has(name: string): boolean {
    return this.store.get(joinKey(this.path, name)) !== undefined;
  }
}

function joinKey(prefix: string, name: string | number): string {
  const part = String(name);
  if (part === '' || part.startsWith('.') || part.endsWith('.')) {
    throw new Error(`invalid weight path segment ${JSON.stringify(part)} under "${prefix}"`);
  }
  if (typeof name === 'number' && !(Number.isInteger(name) && name >= 0)) {
    throw new Error(`invalid weight index ${name} under "${prefix}"`);
  }
  return prefix === '' ? part : `${prefix}.${part}`;
}
