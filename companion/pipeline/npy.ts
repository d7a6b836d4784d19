import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * NumPy .npy (format 1.0/2.0/3.0) for float32 C-order arrays: `--latents IN.npy` and
 * `--save-latents OUT.npy` exchange latents with diffusers (`np.save(latents.numpy())`).
 */
export interface Float32Nd {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

export function readNpy(file: string): Float32Nd {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    throw new Error(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return parseNpy(buf, file);
}

export function parseNpy(buf: Buffer, name: string): Float32Nd {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new Error(`${name}: not a .npy file (bad magic)`);
  const major = buf[6]!;
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw new Error(`${name}: truncated .npy header`);
    headerLen = buf.readUInt32LE(8);
    start = 12;
  } else {
    throw new Error(`${name}: unsupported .npy format version ${major}`);
  }
  if (start + headerLen > buf.length) throw new Error(`${name}: truncated .npy header`);
  const header = buf.subarray(start, start + headerLen).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new Error(`${name}: malformed .npy header ${JSON.stringify(header.trim())}`);
  }
  if (descr !== '<f4' && descr !== '=f4') throw new Error(`${name}: dtype ${descr} is not float32 little-endian (<f4)`);
  if (fortran === 'True') throw new Error(`${name}: Fortran-ordered arrays are not supported; save a C-ordered array`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: bad dimension ${JSON.stringify(s)} in shape`);
    return n;
  });
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLen;
  if (buf.length - dataStart !== count * 4) {
    throw new Error(`${name}: shape (${shape.join(', ')}) needs ${count * 4} bytes of data, file has ${buf.length - dataStart}`);
  }
  const data = new Float32Array(count);
  Buffer.from(data.buffer).set(buf.subarray(dataStart));
  return { shape, data };
}

export function encodeNpy(arr: Float32Nd): Buffer {
  const count = arr.shape.reduce((a, b) => a * b, 1);
  if (count !== arr.data.length) throw new Error(`shape (${arr.shape.join(', ')}) does not match ${arr.data.length} values`);
  const shape = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  // Pad so the data starts on a 64-byte boundary, newline-terminated, as numpy does.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const head = Buffer.alloc(10);
  MAGIC.copy(head, 0);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength)]);
}

/** Writes through a temporary file and a rename, so a failure never leaves a half-written file. */
export function writeNpy(file: string, arr: Float32Nd): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, encodeNpy(arr));
  fs.renameSync(tmp, file);
}
