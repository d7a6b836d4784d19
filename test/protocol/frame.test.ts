import {
  decodeFrame, encodeFrame, encodeImageFrames, FRAME_HEADER_BYTES, FrameKind, MAX_CHUNK_BYTES, ProtocolError, Reassembler,
} from '../../protocol';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProtocolError) return err.code;
    throw err;
  }
  throw new Error('expected a ProtocolError');
}

function image(width: number, height: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < rgba.length; i++) rgba[i] = (i * 31 + 7) & 0xff;
  return rgba;
}

const uploads = (maxImageSide = 4096) => new Reassembler({ maxImageSide, maxOpenTransfers: 2, acceptKinds: [FrameKind.upload] });

describe('frame header', () => {
  test('has the documented little-endian layout, byte for byte', () => {
    const frame = encodeFrame(
      { kind: FrameKind.result, transferId: 0x01020304, chunkIndex: 1, chunkCount: 3, width: 2, height: 1, totalBytes: 8 },
      new Uint8Array([9, 9]),
    );
    expect(Array.from(frame)).toEqual([
      0x53, 0x53, 0x50, 0x58, // "SSPX"
      1, 2, 32, 0, // version, kind, headerBytes
      4, 3, 2, 1, // transferId
      1, 0, 0, 0, 3, 0, 0, 0, // chunkIndex, chunkCount
      2, 0, 0, 0, 1, 0, 0, 0, // width, height
      8, 0, 0, 0, // totalBytes
      9, 9,
    ]);
  });

  test('decodes a frame that sits at an offset inside a larger buffer (Node Buffer pools)', () => {
    const frame = encodeFrame({ kind: FrameKind.upload, transferId: 5, chunkIndex: 0, chunkCount: 1, width: 1, height: 1, totalBytes: 4 }, new Uint8Array([1, 2, 3, 4]));
    const pool = new Uint8Array(100);
    pool.set(frame, 13);
    const { header, payload } = decodeFrame(pool.subarray(13, 13 + frame.length));
    expect(header).toEqual({ kind: 1, transferId: 5, chunkIndex: 0, chunkCount: 1, width: 1, height: 1, totalBytes: 4 });
    expect(Array.from(payload)).toEqual([1, 2, 3, 4]);
  });

  test('rejects frames shorter than the header, wrong magic, version, kind or headerBytes', () => {
    const good = encodeFrame({ kind: FrameKind.upload, transferId: 1, chunkIndex: 0, chunkCount: 1, width: 1, height: 1, totalBytes: 4 }, new Uint8Array(4));
    expect(codeOf(() => decodeFrame(good.subarray(0, FRAME_HEADER_BYTES - 1)))).toBe('BAD_FRAME');
    for (const [offset, value] of [[0, 0x54], [4, 2], [5, 9], [6, 31]] as const) {
      const bad = good.slice();
      bad[offset] = value;
      expect(codeOf(() => decodeFrame(bad))).toBe('BAD_FRAME');
    }
    expect(codeOf(() => decodeFrame(good.subarray(0, FRAME_HEADER_BYTES)))).toBe('BAD_FRAME'); // no payload
  });

  test('rejects zero sizes, byte counts that are not w×h×4, and impossible chunk counts', () => {
    const h = { kind: FrameKind.upload, transferId: 1, chunkIndex: 0, chunkCount: 1, width: 1, height: 1, totalBytes: 4 } as const;
    expect(codeOf(() => decodeFrame(encodeFrame({ ...h, width: 0, totalBytes: 0 }, new Uint8Array(4))))).toBe('BAD_IMAGE');
    expect(codeOf(() => decodeFrame(encodeFrame({ ...h, totalBytes: 3 }, new Uint8Array(3))))).toBe('BAD_IMAGE');
    expect(codeOf(() => decodeFrame(encodeFrame({ ...h, chunkCount: 5 }, new Uint8Array(4))))).toBe('BAD_FRAME');
    expect(codeOf(() => decodeFrame(encodeFrame({ ...h, chunkIndex: 1, chunkCount: 1 }, new Uint8Array(4))))).toBe('CHUNK_ORDER');
    // 1024×1024×4 bytes cannot come in one chunk of at most 1 MiB.
    const big = { ...h, width: 1024, height: 1024, totalBytes: 1024 * 1024 * 4 };
    expect(codeOf(() => decodeFrame(encodeFrame(big, new Uint8Array(4))))).toBe('BAD_FRAME');
  });

  test('encodeFrame refuses header fields that do not fit a u32', () => {
    expect(codeOf(() => encodeFrame({ kind: FrameKind.upload, transferId: -1, chunkIndex: 0, chunkCount: 1, width: 1, height: 1, totalBytes: 4 }, new Uint8Array(4)))).toBe('BAD_FRAME');
  });
});

describe('chunking and reassembly', () => {
  test('a 600×500 image splits into 1 MiB chunks and reassembles bit for bit', () => {
    const rgba = image(600, 500);
    const frames = encodeImageFrames(FrameKind.upload, 77, 600, 500, rgba);
    expect(frames.length).toBe(Math.ceil((600 * 500 * 4) / MAX_CHUNK_BYTES));
    for (const f of frames) expect(f.byteLength).toBeLessThanOrEqual(FRAME_HEADER_BYTES + MAX_CHUNK_BYTES);
    const r = uploads();
    const results = frames.map((f) => r.push(f));
    expect(results.slice(0, -1).every((x) => x === null)).toBe(true);
    const done = results[results.length - 1];
    expect(done?.transferId).toBe(77);
    expect(done?.width).toBe(600);
    expect(Buffer.from(done!.rgba).equals(Buffer.from(rgba))).toBe(true);
    expect(r.openTransfers).toBe(0);
  });

  test('two transfers may interleave', () => {
    const a = encodeImageFrames(FrameKind.upload, 1, 8, 8, image(8, 8), 100);
    const b = encodeImageFrames(FrameKind.upload, 2, 4, 4, image(4, 4), 30);
    const r = uploads();
    const out: number[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      for (const f of [a[i], b[i]]) {
        const done = f && r.push(f);
        if (done) out.push(done.transferId);
      }
    }
    expect(out.sort()).toEqual([1, 2]);
  });

  test('out-of-order, repeated or foreign chunks fail with CHUNK_ORDER and drop the transfer', () => {
    const frames = encodeImageFrames(FrameKind.upload, 3, 10, 10, image(10, 10), 100);
    let r = uploads();
    expect(codeOf(() => r.push(frames[1]!))).toBe('CHUNK_ORDER'); // does not start at 0
    r.push(frames[0]!);
    expect(codeOf(() => r.push(frames[2]!))).toBe('CHUNK_ORDER'); // skips 1
    expect(r.openTransfers).toBe(0);
    r = uploads();
    r.push(frames[0]!);
    const other = encodeImageFrames(FrameKind.upload, 3, 5, 20, image(5, 20), 100);
    expect(codeOf(() => r.push(other[1]!))).toBe('CHUNK_ORDER'); // same id, other size
    expect(r.openTransfers).toBe(0);
  });

  test('a last chunk short of totalBytes fails with BAD_IMAGE (truncated image)', () => {
    const h = { kind: FrameKind.upload, transferId: 4, chunkCount: 2, width: 4, height: 4, totalBytes: 64 } as const;
    const r = uploads();
    expect(r.push(encodeFrame({ ...h, chunkIndex: 0 }, new Uint8Array(32)))).toBeNull();
    expect(codeOf(() => r.push(encodeFrame({ ...h, chunkIndex: 1 }, new Uint8Array(16))))).toBe('BAD_IMAGE');
    expect(r.openTransfers).toBe(0);
  });

  test('a chunk beyond totalBytes fails with BAD_IMAGE', () => {
    const h = { kind: FrameKind.upload, transferId: 4, chunkCount: 2, width: 2, height: 2, totalBytes: 16 } as const;
    const r = uploads();
    expect(r.push(encodeFrame({ ...h, chunkIndex: 0 }, new Uint8Array(12)))).toBeNull();
    expect(codeOf(() => r.push(encodeFrame({ ...h, chunkIndex: 1 }, new Uint8Array(12))))).toBe('BAD_IMAGE');
  });

  test('oversized sides fail before any buffer is allocated; open transfers are capped', () => {
    const r = uploads(64);
    // 30000² RGBA is 3.6 GB: refused on the side limit, never allocated.
    const huge = { kind: FrameKind.upload, transferId: 9, chunkIndex: 0, chunkCount: 3434, width: 30000, height: 30000, totalBytes: 30000 * 30000 * 4 };
    expect(codeOf(() => r.push(encodeFrame(huge, new Uint8Array(4))))).toBe('IMAGE_TOO_LARGE');
    const tooWide = encodeImageFrames(FrameKind.upload, 10, 65, 1, image(65, 1));
    expect(codeOf(() => r.push(tooWide[0]!))).toBe('IMAGE_TOO_LARGE');
    const part = (id: number) => encodeImageFrames(FrameKind.upload, id, 8, 8, image(8, 8), 64)[0]!;
    r.push(part(1));
    r.push(part(2));
    expect(codeOf(() => r.push(part(3)))).toBe('UPLOAD_LIMIT');
    r.abort(1);
    expect(r.push(part(3))).toBeNull();
  });

  test('frames of a kind this side does not accept are refused', () => {
    const r = uploads();
    const result = encodeImageFrames(FrameKind.result, 1, 1, 1, image(1, 1));
    expect(codeOf(() => r.push(result[0]!))).toBe('BAD_FRAME');
  });

  test('encodeImageFrames refuses a buffer of the wrong length', () => {
    expect(codeOf(() => encodeImageFrames(FrameKind.upload, 1, 2, 2, new Uint8Array(15)))).toBe('BAD_IMAGE');
  });
});
