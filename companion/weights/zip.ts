/**
 * Just enough of the zip format to find the entries of a torch.save archive without reading their data:
 * the end-of-central-directory record (zip64 too), the central directory, and each entry's local header (whose
 * extra field torch uses to pad storages to 64-byte alignment, so it differs from the central one).
 *
 *   readZipDirectory(f: OpenedFile): ZipEntry[]     errors are WeightFileError naming the file
 */
import { fileError, readExactly, type OpenedFile } from './files';

export interface ZipEntry {
  readonly name: string;
  /** 0 = STORED, 8 = DEFLATE, … */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  /** Absolute offset of the entry's (possibly compressed) bytes in the file. */
  readonly dataOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

export function readZipDirectory(f: OpenedFile): ZipEntry[] {
  const bad = (problem: string): never => {
    throw fileError(f, problem);
  };
  // The EOCD record is 22 bytes plus a comment of at most 65535 bytes, at the very end.
  const tailLength = Math.min(f.size, 22 + 0xffff);
  const tailStart = f.size - tailLength;
  const tail = readExactly(f, tailStart, tailLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) bad('not a zip archive (no end-of-central-directory record): truncated, or not a torch.save file');

  let count: number = tail.readUInt16LE(eocd + 10);
  let cdSize: number = tail.readUInt32LE(eocd + 12);
  let cdOffset: number = tail.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || tail.readUInt32LE(loc) !== ZIP64_LOCATOR) bad('zip64 archive without its zip64 locator');
    const z64Offset = safe(tail.readBigUInt64LE(loc + 8), 'zip64 record offset', bad);
    const z64 = readExactly(f, z64Offset, 56);
    if (z64.readUInt32LE(0) !== ZIP64_EOCD) bad('zip64 end-of-central-directory record not found where the locator says');
    count = safe(z64.readBigUInt64LE(32), 'entry count', bad);
    cdSize = safe(z64.readBigUInt64LE(40), 'central directory size', bad);
    cdOffset = safe(z64.readBigUInt64LE(48), 'central directory offset', bad);
  }
  if (cdOffset + cdSize > f.size) bad(`central directory [${cdOffset}, ${cdOffset + cdSize}) lies beyond the end of the file (${f.size} bytes)`);

  const cd = readExactly(f, cdOffset, cdSize);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL) bad(`central directory entry ${i} is corrupt`);
    const flags = cd.readUInt16LE(p + 8);
    const method = cd.readUInt16LE(p + 10);
    let compressedSize = cd.readUInt32LE(p + 20);
    let size = cd.readUInt32LE(p + 24);
    const nameLength = cd.readUInt16LE(p + 28);
    const extraLength = cd.readUInt16LE(p + 30);
    const commentLength = cd.readUInt16LE(p + 32);
    let localOffset = cd.readUInt32LE(p + 42);
    const name = cd.toString('utf8', p + 46, p + 46 + nameLength);
    if (flags & 1) bad(`zip entry ${name} is encrypted`);
    // zip64 extended information: only the fields whose 32-bit value is saturated are present, in this order.
    let e = p + 46 + nameLength;
    const extraEnd = e + extraLength;
    while (e + 4 <= extraEnd) {
      const id = cd.readUInt16LE(e);
      const len = cd.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        const next = (what: string): number => {
          if (q + 8 > e + 4 + len) bad(`zip entry ${name}: zip64 extra field lacks the ${what}`);
          const v = safe(cd.readBigUInt64LE(q), what, bad);
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = next('size');
        if (compressedSize === 0xffffffff) compressedSize = next('compressed size');
        if (localOffset === 0xffffffff) localOffset = next('local header offset');
      }
      e += 4 + len;
    }
    p = extraEnd + commentLength;

    const local = readExactly(f, localOffset, 30);
    if (local.readUInt32LE(0) !== LOCAL) bad(`zip entry ${name}: local header not found at offset ${localOffset}`);
    const dataOffset = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    if (dataOffset + compressedSize > f.size) {
      bad(`zip entry ${name} [${dataOffset}, ${dataOffset + compressedSize}) reaches beyond the end of the file (${f.size} bytes): truncated`);
    }
    entries.push({ name, method, compressedSize, size, dataOffset });
  }
  return entries;
}

function safe(v: bigint, what: string, bad: (p: string) => never): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) bad(`zip64 ${what} ${v} is out of range`);
  return Number(v);
}
