/**
 * Binary frames carry pixels: a 32-byte little-endian header, then a slice of raw 8-bit RGBA.
 * Only Uint8Array/DataView are used, so the same code runs in Node and in UXP/browsers.
 *
 *   offset size field
 *        0    4 magic        0x58505353 (bytes "SSPX")
 *        4    1 version      FRAME_VERSION (1)
 *        5    1 kind         FrameKind: 1 upload (panel → daemon), 2 result, 3 preview, 4 a preset's image (daemon → panel)
 *        6    2 headerBytes  32; a reader rejects anything else in version 1
 *        8    4 transferId   chosen by the sender, unique among its unfinished transfers
 *       12    4 chunkIndex   0-based; chunks of a transfer are sent in order
 *       16    4 chunkCount   ≥ 1, same on every chunk of the transfer
 *       20    4 width        pixels, ≥ 1
 *       24    4 height       pixels, ≥ 1
 *       28    4 totalBytes   width × height × 4
 *       32    …  payload     1 … MAX_CHUNK_BYTES bytes, appended in chunk order
 */
import { ProtocolError } from './errors';
import { BYTES_PER_PIXEL, MAX_CHUNK_BYTES } from './limits';

export const FRAME_MAGIC = 0x58505353;
export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 32;

export const FrameKind = { upload: 1, result: 2, preview: 3, reference: 4 } as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];
const FRAME_KINDS: ReadonlySet<number> = new Set(Object.values(FrameKind));

export interface FrameHeader {
  readonly kind: FrameKind;
  readonly transferId: number;
  readonly chunkIndex: number;
  readonly chunkCount: number;
  readonly width: number;
  readonly height: number;
  readonly totalBytes: number;
}

export interface DecodedFrame {
  readonly header: FrameHeader;
  /** A view into the received bytes (no copy). */
  readonly payload: Uint8Array;
}

const U32_MAX = 0xffffffff;

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= U32_MAX;
}

/** One frame: header + payload copied into a fresh buffer ready for `WebSocket.send`. */
export function encodeFrame(header: FrameHeader, payload: Uint8Array): Uint8Array {
  for (const [name, value] of Object.entries(header)) {
    if (!isU32(value)) throw new ProtocolError('BAD_FRAME', `frame header field ${name} must be a u32, got ${value}`);
  }
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, FRAME_MAGIC, true);
  view.setUint8(4, FRAME_VERSION);
  view.setUint8(5, header.kind);
  view.setUint16(6, FRAME_HEADER_BYTES, true);
  view.setUint32(8, header.transferId, true);
  view.setUint32(12, header.chunkIndex, true);
  view.setUint32(16, header.chunkCount, true);
  view.setUint32(20, header.width, true);
  view.setUint32(24, header.height, true);
  view.setUint32(28, header.totalBytes, true);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/**
 * Reads and checks one frame's header. Checks what a single frame can prove on its own (magic,
 * version, kind, sizes consistent with RGBA, payload size); ordering is the Reassembler's job.
 */
export function decodeFrame(data: ArrayBuffer | Uint8Array): DecodedFrame {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.byteLength < FRAME_HEADER_BYTES) {
    throw new ProtocolError('BAD_FRAME', `binary frame of ${bytes.byteLength} bytes is shorter than the ${FRAME_HEADER_BYTES}-byte header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, FRAME_HEADER_BYTES);
  const magic = view.getUint32(0, true);
  if (magic !== FRAME_MAGIC) throw new ProtocolError('BAD_FRAME', `binary frame magic 0x${magic.toString(16)} is not 0x${FRAME_MAGIC.toString(16)} ("SSPX")`);
  const version = view.getUint8(4);
  if (version !== FRAME_VERSION) throw new ProtocolError('BAD_FRAME', `binary frame version ${version} is not ${FRAME_VERSION}`);
  const kind = view.getUint8(5);
  if (!FRAME_KINDS.has(kind)) throw new ProtocolError('BAD_FRAME', `binary frame kind ${kind} is unknown`);
  const headerBytes = view.getUint16(6, true);
  if (headerBytes !== FRAME_HEADER_BYTES) throw new ProtocolError('BAD_FRAME', `binary frame headerBytes ${headerBytes} is not ${FRAME_HEADER_BYTES}`);
  const header: FrameHeader = {
    kind: kind as FrameKind,
    transferId: view.getUint32(8, true),
    chunkIndex: view.getUint32(12, true),
    chunkCount: view.getUint32(16, true),
    width: view.getUint32(20, true),
    height: view.getUint32(24, true),
    totalBytes: view.getUint32(28, true),
  };
  if (header.width === 0 || header.height === 0) {
    throw new ProtocolError('BAD_IMAGE', `image ${header.width}×${header.height} has a zero side`);
  }
  if (header.totalBytes !== header.width * header.height * BYTES_PER_PIXEL) {
    throw new ProtocolError('BAD_IMAGE', `totalBytes ${header.totalBytes} is not ${header.width}×${header.height}×${BYTES_PER_PIXEL}`);
  }
  if (header.chunkCount === 0 || header.chunkCount > header.totalBytes) {
    throw new ProtocolError('BAD_FRAME', `chunkCount ${header.chunkCount} is impossible for ${header.totalBytes} bytes`);
  }
  if (header.chunkCount < Math.ceil(header.totalBytes / MAX_CHUNK_BYTES)) {
    throw new ProtocolError('BAD_FRAME', `chunkCount ${header.chunkCount} would need chunks above ${MAX_CHUNK_BYTES} bytes`);
  }
  if (header.chunkIndex >= header.chunkCount) {
    throw new ProtocolError('CHUNK_ORDER', `chunkIndex ${header.chunkIndex} is not below chunkCount ${header.chunkCount}`);
  }
  const payload = bytes.subarray(FRAME_HEADER_BYTES);
  if (payload.byteLength === 0 || payload.byteLength > MAX_CHUNK_BYTES) {
    throw new ProtocolError('BAD_FRAME', `chunk payload of ${payload.byteLength} bytes is outside 1…${MAX_CHUNK_BYTES}`);
  }
  return { header, payload };
}

/** Splits an RGBA image into encoded frames of at most `chunkBytes` payload each. */
export function encodeImageFrames(
  kind: FrameKind,
  transferId: number,
  width: number,
  height: number,
  rgba: Uint8Array,
  chunkBytes: number = MAX_CHUNK_BYTES,
): Uint8Array[] {
  const totalBytes = width * height * BYTES_PER_PIXEL;
  if (width < 1 || height < 1 || rgba.byteLength !== totalBytes) {
    throw new ProtocolError('BAD_IMAGE', `image ${width}×${height} needs ${totalBytes} RGBA bytes, got ${rgba.byteLength}`);
  }
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > MAX_CHUNK_BYTES) {
    throw new ProtocolError('BAD_FRAME', `chunkBytes ${chunkBytes} is outside 1…${MAX_CHUNK_BYTES}`);
  }
  const chunkCount = Math.ceil(totalBytes / chunkBytes);
  const frames: Uint8Array[] = [];
  for (let chunkIndex = 0; chunkIndex < chunkCount; chunkIndex++) {
    const payload = rgba.subarray(chunkIndex * chunkBytes, Math.min(totalBytes, (chunkIndex + 1) * chunkBytes));
    frames.push(encodeFrame({ kind, transferId, chunkIndex, chunkCount, width, height, totalBytes }, payload));
  }
  return frames;
}

export interface ReassembledImage {
  readonly kind: FrameKind;
  readonly transferId: number;
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8Array;
}

export interface ReassemblerOptions {
  /** Largest accepted width or height; checked before any buffer is allocated. */
  readonly maxImageSide: number;
  /** Most transfers that may be unfinished at once. */
  readonly maxOpenTransfers: number;
  /** Frame kinds this side accepts (the daemon accepts uploads, the panel results and previews). */
  readonly acceptKinds: readonly FrameKind[];
}

interface OpenTransfer {
  readonly first: FrameHeader;
  readonly rgba: Uint8Array;
  nextIndex: number;
  received: number;
}

/**
 * Collects chunks into whole images. Every violation throws a ProtocolError with a stable code and
 * drops the transfer it concerns, so a bad stream never leaves a half-filled image behind.
 */
export class Reassembler {
  private readonly open = new Map<number, OpenTransfer>();

  constructor(private readonly options: ReassemblerOptions) {}

  /** Number of transfers begun and not yet complete. */
  get openTransfers(): number {
    return this.open.size;
  }

  /** Feeds one binary message; returns the image when its last chunk arrives, otherwise null. */
  push(data: ArrayBuffer | Uint8Array): ReassembledImage | null {
    const { header, payload } = decodeFrame(data);
    if (!this.options.acceptKinds.includes(header.kind)) {
      throw new ProtocolError('BAD_FRAME', `binary frame kind ${header.kind} is not accepted in this direction`);
    }
    let transfer = this.open.get(header.transferId);
    if (transfer === undefined) {
      if (header.chunkIndex !== 0) {
        throw new ProtocolError('CHUNK_ORDER', `transfer ${header.transferId} starts with chunk ${header.chunkIndex}, not 0`);
      }
      const side = Math.max(header.width, header.height);
      if (side > this.options.maxImageSide) {
        throw new ProtocolError('IMAGE_TOO_LARGE', `image ${header.width}×${header.height} exceeds the ${this.options.maxImageSide}-pixel side limit`);
      }
      if (this.open.size >= this.options.maxOpenTransfers) {
        throw new ProtocolError('UPLOAD_LIMIT', `more than ${this.options.maxOpenTransfers} unfinished transfers`);
      }
      transfer = { first: header, rgba: new Uint8Array(header.totalBytes), nextIndex: 0, received: 0 };
      this.open.set(header.transferId, transfer);
    } else {
      const f = transfer.first;
      const same = f.kind === header.kind && f.chunkCount === header.chunkCount && f.width === header.width &&
        f.height === header.height && f.totalBytes === header.totalBytes;
      if (!same) {
        this.open.delete(header.transferId);
        throw new ProtocolError('CHUNK_ORDER', `chunk ${header.chunkIndex} of transfer ${header.transferId} disagrees with its first chunk`);
      }
      if (header.chunkIndex !== transfer.nextIndex) {
        this.open.delete(header.transferId);
        throw new ProtocolError('CHUNK_ORDER', `transfer ${header.transferId} expected chunk ${transfer.nextIndex}, got ${header.chunkIndex}`);
      }
    }
    const isLast = header.chunkIndex === header.chunkCount - 1;
    const end = transfer.received + payload.byteLength;
    if (end > header.totalBytes || (isLast && end !== header.totalBytes)) {
      this.open.delete(header.transferId);
      throw new ProtocolError('BAD_IMAGE', `transfer ${header.transferId} carries ${isLast ? end : `more than ${header.totalBytes}`} bytes, expected ${header.totalBytes}`);
    }
    transfer.rgba.set(payload, transfer.received);
    transfer.received = end;
    transfer.nextIndex++;
    if (!isLast) return null;
    this.open.delete(header.transferId);
    return { kind: header.kind, transferId: header.transferId, width: header.width, height: header.height, rgba: transfer.rgba };
  }

  /** Drops an unfinished transfer (e.g. when its job is cancelled). */
  abort(transferId: number): void {
    this.open.delete(transferId);
  }

  clear(): void {
    this.open.clear();
  }
}
