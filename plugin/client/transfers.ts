/**
 * Pixels on the wire, both ways. `Uploader` sends an image as upload frames paced by the socket's send buffer
 * (UXP closes a socket whose buffer fills). `IncomingImages` matches the companion's `result`/`progress`
 * announcements with the frames that follow and hands each finished image to whoever the announcement names.
 */
import { encodeImageFrames, FrameKind, Reassembler, type Welcome } from '../../protocol';
import type { RgbaImage } from '../host/host';
import type { Timers } from './connection';
import type { SocketLike } from './socket';

/**
 * Upload pacing: 64 KiB chunks, the next one sent only while at most 192 KiB wait in the socket, so at most
 * 256 KiB are ever in flight.
 */
export const UPLOAD_CHUNK_BYTES = 64 * 1024;
export const UPLOAD_HIGH_WATER_BYTES = 192 * 1024;

export class Uploader {
  private nextTransfer = 1;

  constructor(
    private readonly timers: Timers,
    private readonly highWater: number,
    /** Whether the socket is still the live one; an upload on a dead socket stops with an error. */
    private readonly isCurrent: (socket: SocketLike) => boolean,
  ) {}

  /** Sends the image; resolves with its transfer id once every frame is handed to the socket. */
  async upload(socket: SocketLike, image: RgbaImage, chunkBytes: number): Promise<number> {
    const transferId = this.nextTransfer++ >>> 0;
    const frames = encodeImageFrames(FrameKind.upload, transferId, image.width, image.height, image.data, Math.min(UPLOAD_CHUNK_BYTES, chunkBytes));
    for (const frame of frames) {
      await this.drain(socket);
      // A whole ArrayBuffer is the most widely supported binary payload (UXP documents ArrayBuffer first).
      const whole = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength ? frame : frame.slice();
      socket.send(whole.buffer as ArrayBuffer);
    }
    return transferId;
  }

  /** Waits until the socket's send buffer is below the high-water mark. */
  private async drain(socket: SocketLike): Promise<void> {
    while (socket.bufferedAmount > this.highWater) {
      if (!this.isCurrent(socket)) throw new Error('the connection closed');
      await new Promise<void>((resolve) => this.timers.setTimeout(resolve, 10));
    }
    if (!this.isCurrent(socket)) throw new Error('the connection closed');
  }
}

/** A binary message's bytes, or null. Realm-neutral: the socket may hand over buffers from another JS realm (jsdom, iframes). */
export function bytesOf(data: unknown): Uint8Array | null {
  return ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : Object.prototype.toString.call(data) === '[object ArrayBuffer]'
      ? new Uint8Array(data as ArrayBuffer)
      : null;
}

/** What an announcement said about the image that follows it. */
export interface Announcement<Owner> {
  readonly owner: Owner;
  readonly kind: 'result' | 'preview';
  readonly index: number;
  readonly seed: number;
  readonly step: number;
  readonly total: number;
  readonly variation: number;
}

export class IncomingImages<Owner> {
  private reassembler: Reassembler | null = null;
  private readonly announced = new Map<number, Announcement<Owner>>();

  /** Images announced or partly received and not yet handed over. */
  get pending(): number {
    return this.announced.size + (this.reassembler?.openTransfers ?? 0);
  }

  /** A new connection: limits from its welcome, nothing carried over. */
  reset(welcome: Welcome): void {
    this.clear();
    this.reassembler = new Reassembler({
      maxImageSide: welcome.limits.maxImageSide,
      maxOpenTransfers: 2 * welcome.limits.maxVariations + 2,
      acceptKinds: [FrameKind.result, FrameKind.preview],
    });
  }

  announce(transferId: number, note: Announcement<Owner>): void {
    this.announced.set(transferId, note);
  }

  /** Feeds one binary frame; returns the finished image with its announcement, or null. Broken transfers are dropped. */
  push(data: unknown): { note: Announcement<Owner>; image: RgbaImage } | null {
    if (!this.reassembler) return null;
    const bytes = bytesOf(data);
    if (!bytes) return null;
    let image;
    try {
      image = this.reassembler.push(bytes);
    } catch {
      return null; // a broken transfer: its job still ends with done/error, which is what the user sees
    }
    if (!image) return null;
    const note = this.announced.get(image.transferId);
    this.announced.delete(image.transferId);
    if (!note) return null;
    return { note, image: { width: image.width, height: image.height, data: image.rgba } };
  }

  /** Forgets announcements for one owner (its job ended). */
  dropFor(owner: Owner): void {
    for (const [id, note] of this.announced) if (note.owner === owner) this.announced.delete(id);
  }

  clear(): void {
    this.announced.clear();
    this.reassembler?.clear();
  }
}
