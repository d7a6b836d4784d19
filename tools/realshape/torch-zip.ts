/**
 * A torch.save archive of `{group: OrderedDict(key → tensor)}`, byte for byte in the layout torch 2.13 writes
 * (checked against torch.save output): entries `<archive>/data.pkl`, `.format_version`, `.storage_alignment`,
 * `byteorder`, `data/<n>` (one storage per tensor, data 64-byte aligned through an "FB" extra field of 'Z'
 * padding), `version`, `.data/serialization_id`; STORED, general-purpose flags 0x0808 (UTF-8 names, sizes and
 * CRC-32 in a data descriptor after the data, so each entry streams), then the central directory and a zip64 end
 * record + locator ahead of the classic end record. data.pkl is protocol 2 as torch's pickler writes it, minus
 * the memo (BINPUT/BINGET), which loaders do not need.
 */
import { crc32 } from 'node:zlib';
import type { DType } from '../../companion/weights/tensor';
import { tensorBytes, type FileContent, type TensorSpec, type ValuesFor } from './content';

export interface TorchBinGroup {
  readonly name: string;
  readonly tensors: readonly TensorSpec[];
}

const STORAGE_CLASS: Partial<Record<DType, string>> = {
  F64: 'DoubleStorage', F32: 'FloatStorage', F16: 'HalfStorage', BF16: 'BFloat16Storage', I64: 'LongStorage',
};

/** Pickle protocol 2 opcodes, just those a state dict of tensors needs. */
class Pickler {
  private readonly parts: Buffer[] = [];

  op(...codes: number[]): this {
    this.parts.push(Buffer.from(codes));
    return this;
  }

  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    const head = Buffer.alloc(5);
    head[0] = 0x58; // BINUNICODE
    head.writeUInt32LE(b.length, 1);
    this.parts.push(head, b);
    return this;
  }

  global(module: string, name: string): this {
    this.parts.push(Buffer.from(`c${module}\n${name}\n`, 'utf8')); // GLOBAL
    return this;
  }

  int(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`pickle: ${n} is not a non-negative integer`);
    if (n < 0x100) return this.op(0x4b, n); // BININT1
    if (n < 0x10000) return this.op(0x4d, n & 0xff, n >>> 8); // BININT2
    if (n < 0x80000000) {
      const b = Buffer.alloc(5);
      b[0] = 0x4a; // BININT
      b.writeInt32LE(n, 1);
      this.parts.push(b);
      return this;
    }
    const bytes: number[] = []; // LONG1: little-endian two's complement, with a 0 sign byte when the top bit is set
    for (let v = BigInt(n); v > 0n; v >>= 8n) bytes.push(Number(v & 0xffn));
    if ((bytes[bytes.length - 1] as number) & 0x80) bytes.push(0);
    return this.op(0x8a, bytes.length, ...bytes);
  }

  intTuple(values: readonly number[]): this {
    if (values.length === 0) return this.op(0x29); // EMPTY_TUPLE
    if (values.length > 3) this.op(0x28); // MARK
    for (const v of values) this.int(v);
    return this.op(values.length === 1 ? 0x85 : values.length === 2 ? 0x86 : values.length === 3 ? 0x87 : 0x74);
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** data.pkl: the nested dict, tensor n stored in `data/<n>` in the order the groups list them. */
export function torchPickle(groups: readonly TorchBinGroup[]): Buffer {
  const p = new Pickler();
  p.op(0x80, 2, 0x7d, 0x28); // PROTO 2, EMPTY_DICT, MARK
  let storage = 0;
  for (const g of groups) {
    p.str(g.name).global('collections', 'OrderedDict').op(0x29, 0x52, 0x28); // OrderedDict() , MARK
    for (const t of g.tensors) {
      const cls = STORAGE_CLASS[t.dtype];
      if (!cls) throw new Error(`${g.name}.${t.key}: no torch storage class for ${t.dtype}`);
      const numel = t.shape.reduce((a, b) => a * b, 1);
      const stride = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
      p.str(t.key).global('torch._utils', '_rebuild_tensor_v2').op(0x28); // MARK (args)
      p.op(0x28).str('storage').global('torch', cls).str(String(storage++)).str('cpu').int(numel).op(0x74, 0x51); // (…) TUPLE BINPERSID
      p.int(0).intTuple(t.shape).intTuple(stride).op(0x89); // offset, size, stride, requires_grad=False
      p.global('collections', 'OrderedDict').op(0x29, 0x52); // backward_hooks = OrderedDict()
      p.op(0x74, 0x52); // TUPLE REDUCE
    }
    p.op(0x75); // SETITEMS
  }
  p.op(0x75, 0x2e); // SETITEMS, STOP
  return p.bytes();
}

interface Entry {
  readonly name: Buffer;
  readonly size: number;
  readonly write: (sink: (bytes: Buffer) => void) => void;
  /** Local header offset and extra-field length, filled in by the layout. */
  offset: number;
  extra: number;
  crc: number;
}

const ALIGN = 64;
const LOCAL = 30;
const DESCRIPTOR = 16;
const CENTRAL = 46;
const ZIP64_END = 56;
const ZIP64_LOCATOR = 20;
const END = 22;
const FLAGS = 0x0808;

/**
 * `archiveName` is the prefix of every entry (torch.save uses the file name without extension);
 * `serializationId` the content of `.data/serialization_id` (torch writes 40 decimal digits).
 */
export function torchBinContent(archiveName: string, groups: readonly TorchBinGroup[], scope: string, values: ValuesFor, serializationId: string): FileContent {
  const text = (name: string, s: string): Entry => {
    const b = Buffer.from(s, 'utf8');
    return entry(name, b.length, (sink) => sink(b));
  };
  const entry = (name: string, size: number, write: Entry['write']): Entry =>
    ({ name: Buffer.from(`${archiveName}/${name}`, 'utf8'), size, write, offset: 0, extra: 0, crc: 0 });
  const pkl = torchPickle(groups);
  const entries: Entry[] = [
    entry('data.pkl', pkl.length, (sink) => sink(pkl)),
    text('.format_version', '1'),
    text('.storage_alignment', String(ALIGN)),
    text('byteorder', 'little'),
  ];
  let n = 0;
  for (const g of groups) {
    for (const t of g.tensors) {
      const key = `${g.name}.${t.key}`;
      entries.push(entry(`data/${n++}`, tensorBytes(t), (sink) => values(scope, { ...t, key }).forEachChunk(sink)));
    }
  }
  entries.push(text('version', '3\n'), text('.data/serialization_id', serializationId));

  let offset = 0;
  for (const e of entries) {
    e.offset = offset;
    const dataStart = offset + LOCAL + e.name.length + 4;
    e.extra = 4 + ((ALIGN - (dataStart % ALIGN)) % ALIGN);
    offset += LOCAL + e.name.length + e.extra + e.size + DESCRIPTOR;
  }
  const cdOffset = offset;
  const cdSize = entries.reduce((s, e) => s + CENTRAL + e.name.length, 0);
  const size = cdOffset + cdSize + ZIP64_END + ZIP64_LOCATOR + END;
  if (cdOffset + cdSize > 0xfffffffe || entries.length >= 0xffff) {
    throw new Error(`torch archive of ${size} bytes / ${entries.length} entries needs zip64 entries, which this writer does not make`);
  }

  return {
    size,
    write(sink) {
      let written = 0;
      const put = (b: Buffer): void => {
        sink(b);
        written += b.length;
      };
      for (const e of entries) {
        if (written !== e.offset) throw new Error(`torch archive: ${e.name.toString()} starts at ${written}, planned ${e.offset}`);
        const h = Buffer.alloc(LOCAL + e.name.length + e.extra);
        h.writeUInt32LE(0x04034b50, 0);
        h.writeUInt16LE(FLAGS, 6); // version needed 0, method STORED, time/date 0, CRC and sizes in the descriptor
        h.writeUInt16LE(e.name.length, 26);
        h.writeUInt16LE(e.extra, 28);
        e.name.copy(h, LOCAL);
        h.write('FB', LOCAL + e.name.length, 'latin1');
        h.writeUInt16LE(e.extra - 4, LOCAL + e.name.length + 2);
        h.fill('Z', LOCAL + e.name.length + 4);
        put(h);
        let crc = 0;
        let size = 0;
        e.write((b) => {
          crc = crc32(b, crc);
          size += b.length;
          put(b);
        });
        if (size !== e.size) throw new Error(`torch archive: ${e.name.toString()} has ${size} bytes, planned ${e.size}`);
        e.crc = crc;
        const d = Buffer.alloc(DESCRIPTOR);
        d.writeUInt32LE(0x08074b50, 0);
        d.writeUInt32LE(crc, 4);
        d.writeUInt32LE(size, 8);
        d.writeUInt32LE(size, 12);
        put(d);
      }
      for (const e of entries) {
        const c = Buffer.alloc(CENTRAL + e.name.length);
        c.writeUInt32LE(0x02014b50, 0);
        c.writeUInt16LE(FLAGS, 8);
        c.writeUInt32LE(e.crc, 16);
        c.writeUInt32LE(e.size, 20);
        c.writeUInt32LE(e.size, 24);
        c.writeUInt16LE(e.name.length, 28);
        c.writeUInt32LE(e.offset, 42);
        e.name.copy(c, CENTRAL);
        put(c);
      }
      const tail = Buffer.alloc(ZIP64_END + ZIP64_LOCATOR + END);
      tail.writeUInt32LE(0x06064b50, 0);
      tail.writeBigUInt64LE(BigInt(ZIP64_END - 12), 4);
      tail.writeUInt16LE(0x031e, 12); // made by: unix, 3.0
      tail.writeUInt16LE(45, 14); // needed: 4.5 (zip64)
      tail.writeBigUInt64LE(BigInt(entries.length), 24);
      tail.writeBigUInt64LE(BigInt(entries.length), 32);
      tail.writeBigUInt64LE(BigInt(cdSize), 40);
      tail.writeBigUInt64LE(BigInt(cdOffset), 48);
      tail.writeUInt32LE(0x07064b50, ZIP64_END);
      tail.writeBigUInt64LE(BigInt(cdOffset + cdSize), ZIP64_END + 8);
      tail.writeUInt32LE(1, ZIP64_END + 16);
      const end = ZIP64_END + ZIP64_LOCATOR;
      tail.writeUInt32LE(0x06054b50, end);
      tail.writeUInt16LE(entries.length, end + 8);
      tail.writeUInt16LE(entries.length, end + 10);
      tail.writeUInt32LE(cdSize, end + 12);
      tail.writeUInt32LE(cdOffset, end + 16);
      put(tail);
      if (written !== size) throw new Error(`torch archive: wrote ${written} bytes, planned ${size}`);
    },
  };
}
