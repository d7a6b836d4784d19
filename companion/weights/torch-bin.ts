/**
 * PyTorch `.bin` / `.pt` checkpoints (torch.save's zip format) read without executing anything and without
 * copying tensor bytes: `data.pkl` goes through the restricted unpickler, each storage is a STORED zip entry
 * `<archive>/data/<key>`, and every tensor becomes a TensorRef at entry start + storage_offset × element size.
 *
 *   readTorchBin(file): TorchBinFile    nested dicts flattened to dotted keys ("image_proj.proj.weight");
 *                                       non-tensor leaves (e.g. an epoch number) kept apart in `otherValues`
 *
 * Allowed pickle globals: torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter,
 * collections.OrderedDict and the typed storage classes (torch.FloatStorage …) named in persistent ids.
 * Refused with WeightFileError naming the file: any other global, compressed storages, non-contiguous
 * tensors (they would need a copy), big-endian archives, the legacy pre-1.6 format.
 */
import { inflateRawSync } from 'node:zlib';
import { fileError, readExactly, withWeightFile, type OpenedFile } from './files';
import { PickleDict, PickleError, PickleTuple, unpickle, type PickleCallable } from './restricted-pickle';
import { DTYPE_BYTES, type DType, type TensorRef } from './tensor';
import { readZipDirectory, type ZipEntry } from './zip';

export interface TorchBinFile {
  readonly given: string;
  /** realpath of the file (what TensorRef.file holds). */
  readonly file: string;
  readonly tensors: ReadonlyMap<string, TensorRef>;
  /** Leaves that are not tensors (numbers, strings …), by dotted key. */
  readonly otherValues: ReadonlyMap<string, unknown>;
}

/** torch's legacy typed storage classes, as torch.save names them in persistent ids. */
const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  DoubleStorage: 'F64', FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

class StorageType {
  constructor(readonly dtype: DType, readonly name: string) {}
}
class Storage {
  constructor(readonly dtype: DType, readonly key: string, readonly numel: number, readonly entry: ZipEntry) {}
}
class TensorSpec {
  constructor(
    readonly storage: Storage,
    readonly storageOffset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

export function readTorchBin(file: string): TorchBinFile {
  return withWeightFile(file, (f) => readOpened(f));
}

function readOpened(f: OpenedFile): TorchBinFile {
  const bad = (problem: string): never => {
    throw fileError(f, problem);
  };
  if (f.size === 0) bad('empty file (0 bytes), not a PyTorch checkpoint');
  const magic = readExactly(f, 0, Math.min(4, f.size));
  if (magic[0] === 0x80) {
    bad('legacy (pre-PyTorch 1.6) torch.save format, which cannot be read safely in place; ' +
      're-save it with a current torch.save or convert it to safetensors');
  }
  if (magic.length < 4 || magic.readUInt32LE(0) !== 0x04034b50) bad('not a PyTorch checkpoint (no zip signature)');

  const entries = readZipDirectory(f);
  const pickles = entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (pickles.length !== 1) bad(`expected one <archive>/data.pkl entry, found ${pickles.length}`);
  const pkl = pickles[0] as ZipEntry;
  const prefix = pkl.name.slice(0, -'data.pkl'.length);
  const byName = new Map(entries.map((e) => [e.name, e]));

  const byteorder = byName.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = entryBytes(f, byteorder, bad).toString('latin1');
    if (order !== 'little') bad(`archive byte order is "${order}"; only little-endian checkpoints are supported`);
  }

  const storages = new Map<string, Storage>();
  const globals = new Map<string, PickleCallable>([
    ['collections.OrderedDict', (args) => {
      if (args.length !== 0) bad('OrderedDict called with arguments');
      return new PickleDict();
    }],
    ['torch._utils._rebuild_tensor_v2', (args) => rebuildTensor(args, bad)],
    // nn.Parameter saved directly: (data, requires_grad, backward_hooks[, state]) → the tensor itself.
    ['torch._utils._rebuild_parameter', (args) => {
      if (!(args[0] instanceof TensorSpec)) bad('_rebuild_parameter without a tensor');
      return args[0];
    }],
    ...Object.keys(STORAGE_DTYPES).map((name): [string, PickleCallable] =>
      [`torch.${name}`, () => bad(`torch.${name} called directly instead of through a persistent id`)]),
  ]);
  const storageTypes = new Map(Object.entries(STORAGE_DTYPES).map(([name, dtype]) => [`torch.${name}`, new StorageType(dtype, name)]));

  const persistentLoad = (pid: unknown): unknown => {
    const items = pid instanceof PickleTuple ? pid.items : [];
    const [tag, type, key, , numel] = items;
    if (tag !== 'storage' || items.length !== 5 || typeof key !== 'string' || typeof numel !== 'number') {
      return bad('unexpected persistent id in data.pkl (expected a storage reference)');
    }
    const qualified = (type as { qualified?: string } | null)?.qualified;
    const storageType = qualified === undefined ? undefined : storageTypes.get(qualified);
    if (!storageType) return bad(`storage ${key} has an unsupported storage type`);
    const cached = storages.get(key);
    if (cached) return cached;
    const entryName = `${prefix}data/${key}`;
    const entry = byName.get(entryName);
    if (!entry) return bad(`storage ${key} is referenced by data.pkl but the archive has no entry ${entryName}`);
    if (entry.method !== 0) {
      return bad(`storage entry ${entryName} is compressed (zip method ${entry.method}); torch.save stores ` +
        'storages uncompressed, which is what lets tensors be used in place: re-save the checkpoint');
    }
    const needed = numel * DTYPE_BYTES[storageType.dtype];
    if (entry.size !== needed) {
      return bad(`storage entry ${entryName} holds ${entry.size} bytes but ${numel} × ${storageType.name} needs ${needed}`);
    }
    const storage = new Storage(storageType.dtype, key, numel, entry);
    storages.set(key, storage);
    return storage;
  };

  let root: unknown;
  try {
    // The storage-type globals are only ever looked up to be passed to persistentLoad; resolving them yields a ref
    // whose `qualified` name selects the dtype.
    root = unpickle(entryBytes(f, pkl, bad), {
      globals,
      persistentLoad,
      // Module state_dicts carry `_metadata` (module versions) set via BUILD on the OrderedDict: not weights.
      build: (target) => {
        if (!(target instanceof PickleDict)) bad('data.pkl sets state on an object that is not a dict');
      },
    });
  } catch (err) {
    if (err instanceof PickleError) return bad(`data.pkl: ${err.message}`);
    throw err;
  }
  if (!(root instanceof PickleDict)) bad('data.pkl does not hold a dict of tensors');

  const tensors = new Map<string, TensorRef>();
  const otherValues = new Map<string, unknown>();
  const walk = (dict: PickleDict, path: string): void => {
    for (const [k, v] of dict) {
      if (typeof k !== 'string' && typeof k !== 'number') bad(`dict key ${String(k)} under "${path}" is not a string`);
      const key = path === '' ? String(k) : `${path}.${String(k)}`;
      if (v instanceof PickleDict) walk(v, key);
      else if (v instanceof TensorSpec) {
        if (tensors.has(key)) bad(`key "${key}" occurs twice after flattening nested dicts`);
        tensors.set(key, toTensorRef(key, v, f.real, bad));
      } else otherValues.set(key, v);
    }
  };
  walk(root as PickleDict, '');
  return { given: f.given, file: f.real, tensors, otherValues };
}

function entryBytes(f: OpenedFile, entry: ZipEntry, bad: (p: string) => never): Buffer {
  const raw = readExactly(f, entry.dataOffset, entry.compressedSize);
  if (entry.method === 0) return raw;
  if (entry.method === 8) {
    try {
      return inflateRawSync(raw);
    } catch {
      return bad(`zip entry ${entry.name} cannot be inflated (corrupt)`);
    }
  }
  return bad(`zip entry ${entry.name} uses unsupported compression method ${entry.method}`);
}

function rebuildTensor(args: readonly unknown[], bad: (p: string) => never): TensorSpec {
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  const [storage, storageOffset, size, stride, , hooks] = args;
  if (args.length < 6 || args.length > 7 || !(storage instanceof Storage) || typeof storageOffset !== 'number' ||
    !(size instanceof PickleTuple) || !(stride instanceof PickleTuple)) {
    return bad('malformed _rebuild_tensor_v2 call in data.pkl');
  }
  if (hooks instanceof PickleDict && hooks.size > 0) bad('tensor with backward hooks in data.pkl');
  const ints = (t: PickleTuple, what: string): number[] => t.items.map((d) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) bad(`tensor ${what} ${JSON.stringify(t.items)} is not a list of non-negative integers`);
    return d as number;
  });
  return new TensorSpec(storage, storageOffset, ints(size, 'size'), ints(stride, 'stride'));
}

function toTensorRef(key: string, t: TensorSpec, file: string, bad: (p: string) => never): TensorRef {
  const numel = t.shape.reduce((a, b) => a * b, 1);
  // Row-major contiguity (dims of size 1 may carry any stride): anything else would need a copy to read.
  let expected = 1;
  for (let i = t.shape.length - 1; i >= 0; i--) {
    const dim = t.shape[i] as number;
    if (dim !== 1 && t.stride[i] !== expected && numel > 0) {
      bad(`tensor "${key}" is not contiguous (size [${t.shape.join(', ')}], stride [${t.stride.join(', ')}]); ` +
        'it cannot be used in place: re-save it with .contiguous()');
    }
    expected *= dim;
  }
  if (t.storageOffset + numel > t.storage.numel) {
    bad(`tensor "${key}" [offset ${t.storageOffset} + ${numel} elements] overruns its storage ${t.storage.key} ` +
      `(${t.storage.numel} elements)`);
  }
  const elem = DTYPE_BYTES[t.storage.dtype];
  return Object.freeze({
    key, file, dtype: t.storage.dtype, shape: Object.freeze([...t.shape]),
    offset: t.storage.entry.dataOffset + t.storageOffset * elem, length: numel * elem,
  });
}
