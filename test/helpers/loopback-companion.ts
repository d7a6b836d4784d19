/**
 * A small companion speaking protocol v1 over a real `ws` server on 127.0.0.1, port 0, for the plugin's
 * client and e2e tests until (and beside) the real daemon. It checks what it receives with protocol/'s own
 * parsers and Reassembler, and "generates" flat images whose colour is the mean of the uploaded style, so
 * a test can tell the style pixels really arrived.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import {
  CLOSE_CODES,
  DEFAULT_LIMITS,
  FrameKind,
  PROTOCOL_VERSION,
  Reassembler,
  encodeImageFrames,
  majorOf,
  parseClientMessage,
  type ClientMessage,
  type Generate,
  type Limits,
  type ServerMessage,
} from '../../protocol';

export interface LoopbackOptions {
  token: string;
  protocolVersion?: string;
  /** Milliseconds between sampling steps. */
  stepDelayMs?: number;
  limits?: Partial<Limits>;
  /** Start with the engine waiting for a model that `models.pull` then "downloads". */
  modelsMissing?: boolean;
}

export interface ReceivedUpload {
  readonly transferId: number;
  readonly width: number;
  readonly height: number;
  readonly chunks: number;
  readonly meanRgb: readonly [number, number, number];
}

export interface LoopbackCompanion {
  readonly url: string;
  readonly port: number;
  /** Every parsed control message, in arrival order, per connection index. */
  readonly received: ClientMessage[];
  readonly uploads: ReceivedUpload[];
  readonly generates: Generate[];
  /** Connections accepted so far (open or closed). */
  connections(): number;
  /** Drops every open connection without a close handshake, as a crashed daemon would. */
  dropAll(): void;
  close(): Promise<void>;
}

function meanRgb(rgba: Uint8Array): [number, number, number] {
  const sum = [0, 0, 0];
  const n = rgba.length / 4;
  for (let i = 0; i < rgba.length; i += 4) {
    sum[0]! += rgba[i]!;
    sum[1]! += rgba[i + 1]!;
    sum[2]! += rgba[i + 2]!;
  }
  return [Math.round(sum[0]! / n), Math.round(sum[1]! / n), Math.round(sum[2]! / n)];
}

function flatImage(width: number, height: number, rgb: readonly number[]): Uint8Array {
  const out = new Uint8Array(width * height * 4);
  for (let i = 0; i < out.length; i += 4) {
    out[i] = rgb[0]!;
    out[i + 1] = rgb[1]!;
    out[i + 2] = rgb[2]!;
    out[i + 3] = 255;
  }
  return out;
}

export async function startLoopbackCompanion(options: LoopbackOptions): Promise<LoopbackCompanion> {
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: limits.maxPayloadBytes });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  const received: ClientMessage[] = [];
  const uploads: ReceivedUpload[] = [];
  const generates: Generate[] = [];
  const sockets = new Set<WebSocket>();
  let accepted = 0;
  let nextJob = 1;
  let nextTransfer = 1000;
  let modelsMissing = options.modelsMissing ?? false;
  const modelList = () => [{ id: 'tiny', description: 'tiny test model', repo: 'none/tiny', present: !modelsMissing, missingBytes: modelsMissing ? 3_000_000 : 0 }];

  server.on('connection', (ws) => {
    accepted++;
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    let authed = false;
    const reassembler = new Reassembler({ maxImageSide: limits.maxImageSide, maxOpenTransfers: 4, acceptKinds: [FrameKind.upload] });
    const complete = new Map<number, Uint8Array>();
    const chunkCounts = new Map<number, number>();
    const running = new Map<string, { cancelled: boolean }>();
    const send = (m: ServerMessage) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(m));
    const sendImage = (kind: FrameKind, transferId: number, w: number, h: number, rgba: Uint8Array) => {
      for (const f of encodeImageFrames(kind, transferId, w, h, rgba, limits.chunkBytes)) if (ws.readyState === ws.OPEN) ws.send(f);
    };

    async function run(jobId: string, g: Generate, style: Uint8Array | null): Promise<void> {
      const state = { cancelled: false };
      running.set(jobId, state);
      const p = g.params;
      const colour = style ? meanRgb(style) : [128, 128, 128];
      const total = p.steps * p.variations;
      let step = 0;
      for (let v = 0; v < p.variations; v++) {
        for (let s = 0; s < p.steps; s++) {
          await new Promise((r) => setTimeout(r, options.stepDelayMs ?? 5));
          if (state.cancelled || ws.readyState !== ws.OPEN) {
            running.delete(jobId);
            send({ type: 'done', jobId, outcome: 'cancelled' });
            return;
          }
          step++;
          const previewId = nextTransfer++;
          const side = Math.min(limits.previewSide, 16);
          send({ type: 'progress', jobId, step, total, variation: v, preview: { transferId: previewId, width: side, height: side } });
          sendImage(FrameKind.preview, previewId, side, side, flatImage(side, side, colour));
        }
        const seed = (p.seed ?? 1234) + v;
        const resultId = nextTransfer++;
        send({ type: 'result', jobId, index: v, seed, width: p.width, height: p.height, transferId: resultId });
        sendImage(FrameKind.result, resultId, p.width, p.height, flatImage(p.width, p.height, colour));
      }
      running.delete(jobId);
      send({ type: 'done', jobId, outcome: 'completed' });
    }

    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        const buf = data as Buffer;
        try {
          const image = reassembler.push(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
          const tid = new DataView(buf.buffer, buf.byteOffset + 8, 4).getUint32(0, true);
          chunkCounts.set(tid, (chunkCounts.get(tid) ?? 0) + 1);
          if (image) {
            complete.set(image.transferId, image.rgba);
            uploads.push({ transferId: image.transferId, width: image.width, height: image.height, chunks: chunkCounts.get(tid)!, meanRgb: meanRgb(image.rgba) });
            chunkCounts.delete(tid);
          }
        } catch (err) {
          send({ type: 'error', code: 'BAD_FRAME', message: (err as Error).message });
        }
        return;
      }
      const parsed = parseClientMessage(data.toString());
      if (!parsed.ok) {
        send({ type: 'error', code: parsed.code, message: parsed.message, ...(parsed.requestId ? { requestId: parsed.requestId } : {}) });
        return;
      }
      const msg = parsed.message;
      received.push(msg);
      if (!authed) {
        if (msg.type !== 'hello') {
          send({ type: 'error', code: 'NOT_AUTHENTICATED', message: 'hello first' });
          return;
        }
        const version = options.protocolVersion ?? PROTOCOL_VERSION;
        if (majorOf(msg.protocolVersion) !== majorOf(version)) {
          send({ type: 'error', code: 'VERSION_MISMATCH', message: `panel speaks ${msg.protocolVersion}, companion ${version}` });
          ws.close(CLOSE_CODES.VERSION_MISMATCH);
          return;
        }
        if (msg.token !== options.token) {
          send({ type: 'error', code: 'BAD_TOKEN', message: 'wrong token' });
          ws.close(CLOSE_CODES.BAD_TOKEN);
          return;
        }
        authed = true;
        send({
          type: 'welcome', companionVersion: '0.0.0-loopback', protocolVersion: version, providers: ['cpu'], provider: 'cpu',
          models: modelList(), engine: modelsMissing ? { ready: false, reason: 'models missing: tiny' } : { ready: true }, limits,
        });
        return;
      }
      switch (msg.type) {
        case 'generate': {
          generates.push(msg);
          const styleId = msg.params.style?.transferId;
          const style = styleId === undefined ? null : complete.get(styleId) ?? null;
          if (styleId !== undefined && !style) {
            send({ type: 'error', code: 'UNKNOWN_IMAGE', message: `no upload ${styleId}`, requestId: msg.requestId });
            return;
          }
          if (styleId !== undefined) complete.delete(styleId);
          const jobId = `job-${nextJob++}`;
          send({ type: 'accepted', requestId: msg.requestId, jobId, position: 0 });
          void run(jobId, msg, style);
          return;
        }
        case 'cancel': {
          const job = running.get(msg.jobId);
          if (job) job.cancelled = true;
          else send({ type: 'error', code: 'UNKNOWN_JOB', message: `no job ${msg.jobId}` });
          return;
        }
        case 'models.pull': {
          const requestId = msg.requestId;
          void (async () => {
            for (const receivedBytes of [1_000_000, 3_000_000]) {
              await new Promise((r) => setTimeout(r, 5));
              send({ type: 'models.progress', requestId, model: 'tiny', file: 'unet.safetensors', receivedBytes, totalBytes: 3_000_000 });
            }
            modelsMissing = false;
            send({ type: 'models.done', requestId, models: modelList() });
          })();
          return;
        }
        case 'ping':
          send({ type: 'pong', ...(msg.nonce === undefined ? {} : { nonce: msg.nonce }) });
          return;
        default:
          return;
      }
    });
  });

  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    received,
    uploads,
    generates,
    connections: () => accepted,
    dropAll: () => {
      for (const ws of sockets) ws.terminate();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of sockets) ws.terminate();
        server.close(() => resolve());
      }),
  };
}
