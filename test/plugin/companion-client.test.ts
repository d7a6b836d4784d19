import WebSocket from 'ws';
import { CompanionClient, type ConnectionState, type JobOutcome, type JobResult, type JobProgress } from '../../plugin/client/companion-client';
import { backoffDelay } from '../../plugin/client/backoff';
import type { SocketLike } from '../../plugin/client/socket';
import { startLoopbackCompanion, type LoopbackCompanion } from '../helpers/loopback-companion';
import type { Rgba8Image } from '../../plugin/host/host';

const TOKEN = 'pairing-token-123';
const fastBackoff = { initialMs: 20, maxMs: 80 };
const nodeSockets = (url: string) => new WebSocket(url) as unknown as SocketLike;

function waitFor(client: CompanionClient, kind: ConnectionState['kind'], timeoutMs = 5000): Promise<ConnectionState> {
  return new Promise((resolve, reject) => {
    if (client.state.kind === kind) return resolve(client.state);
    const timer = setTimeout(() => reject(new Error(`state stayed ${client.state.kind}, wanted ${kind}`)), timeoutMs);
    const off = client.subscribe((s) => {
      if (s.kind === kind) {
        clearTimeout(timer);
        off();
        resolve(s);
      }
    });
  });
}

function gradient(width: number, height: number): Rgba8Image {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      data[i] = 200;
      data[i + 1] = x % 2 === 0 ? 40 : 60;
      data[i + 2] = 10;
      data[i + 3] = 255;
    }
  }
  return { width, height, data };
}

interface Collected {
  results: JobResult[];
  progress: JobProgress[];
  outcome: Promise<JobOutcome>;
  accepted: Promise<string>;
}

function collector(): Collected & { events: Parameters<CompanionClient['submit']>[1] } {
  const results: JobResult[] = [];
  const progress: JobProgress[] = [];
  let endResolve!: (o: JobOutcome) => void;
  let acceptResolve!: (id: string) => void;
  const outcome = new Promise<JobOutcome>((r) => (endResolve = r));
  const accepted = new Promise<string>((r) => (acceptResolve = r));
  return {
    results,
    progress,
    outcome,
    accepted,
    events: {
      accepted: (id) => acceptResolve(id),
      progress: (p) => progress.push(p),
      result: (r) => results.push(r),
      end: (o) => endResolve(o),
    },
  };
}

const baseParams = { prompt: 'a lighthouse at dusk', width: 64, height: 48, steps: 3, teacherSteps: 2, variations: 2, seed: 42 };

describe('CompanionClient against a loopback companion', () => {
  let companion: LoopbackCompanion;
  let client: CompanionClient;

  afterEach(async () => {
    client?.disconnect();
    await companion?.close();
  });

  test('pairs: hello carries the token and protocol version, welcome makes it ready', async () => {
    companion = await startLoopbackCompanion({ token: TOKEN });
    client = new CompanionClient({ url: companion.url, socketFactory: nodeSockets, backoff: fastBackoff });
    client.connect(`  ${TOKEN}\n`);
    const ready = await waitFor(client, 'ready');
    expect(ready.kind === 'ready' && ready.welcome.companionVersion).toBe('0.0.0-loopback');
    expect(companion.received[0]).toMatchObject({ type: 'hello', token: TOKEN, protocolVersion: '1.0' });
  });

  test('a wrong token is refused with BAD_TOKEN and no reconnect', async () => {
    companion = await startLoopbackCompanion({ token: TOKEN });
    client = new CompanionClient({ url: companion.url, socketFactory: nodeSockets, backoff: fastBackoff });
    client.connect('not-the-token');
    const refused = await waitFor(client, 'refused');
    expect(refused).toMatchObject({ kind: 'refused', code: 'BAD_TOKEN' });
    await new Promise((r) => setTimeout(r, 200)); // several back-off periods
    expect(companion.connections()).toBe(1);
    expect(client.state.kind).toBe('refused');
  });

  test('a different major protocol version is refused with a message naming both versions', async () => {
    companion = await startLoopbackCompanion({ token: TOKEN, protocolVersion: '2.3' });
    client = new CompanionClient({ url: companion.url, socketFactory: nodeSockets, backoff: fastBackoff });
    client.connect(TOKEN);
    const refused = await waitFor(client, 'refused');
    expect(refused).toMatchObject({ kind: 'refused', code: 'VERSION_MISMATCH' });
    expect(refused.kind === 'refused' && refused.message).toMatch(/1\.0.*2\.3|2\.3.*1\.0/);
  });

  test('no daemon: unreachable, retrying with doubling back-off up to the cap', async () => {
    companion = await startLoopbackCompanion({ token: TOKEN });
    const port = companion.port;
    await companion.close();
    const states: ConnectionState[] = [];
    client = new CompanionClient({ url: `ws://127.0.0.1:${port}`, socketFactory: nodeSockets, backoff: fastBackoff });
    client.subscribe((s) => states.push(s));
    client.connect(TOKEN);
    await waitFor(client, 'unreachable');
    await new Promise((r) => setTimeout(r, 250));
    const waits = states.flatMap((s) => (s.kind === 'unreachable' ? [s.retryInMs] : []));
    expect(waits.length).toBeGreaterThanOrEqual(3);
    expect(waits.slice(0, 3)).toEqual([20, 40, 80]);
    expect(Math.max(...waits)).toBe(80);
  });

  test('reconnects after the connection drops', async () => {
    companion = await startLoopbackCompanion({ token: TOKEN });
    client = new CompanionClient({ url: companion.url, socketFactory: nodeSockets, backoff: fastBackoff });
    client.connect(TOKEN);
    await waitFor(client, 'ready');
    companion.dropAll();
    await waitFor(client, 'unreachable');
    await waitFor(client, 'ready');
    expect(companion.connections()).toBe(2);
  });

  test('generate: the style image goes up in 64 KiB chunks, results and previews come back, nothing is kept', async () => {
    companion = await startLoopbackCompanion({ token: TOKEN });
    client = new CompanionClient({ url: companion.url, socketFactory: nodeSockets, backoff: fastBackoff });
    client.connect(TOKEN);
    await waitFor(client, 'ready');
    const style = gradient(700, 500); // 1.4 MB → 2 chunks
    const c = collector();
    await client.submit({ params: baseParams, style, negativeStyle: { kind: 'drop', preset: 'colour' } }, c.events);
    expect(await c.outcome).toEqual({ kind: 'completed' });
    expect(companion.uploads).toEqual([
      expect.objectContaining({ width: 700, height: 500, chunks: 22, meanRgb: [200, 50, 10] }),
    ]);
    expect(companion.generates[0]!.params).toMatchObject({
      prompt: 'a lighthouse at dusk', seed: 42, variations: 2, negativeStyle: { kind: 'drop', preset: 'colour' },
      style: { transferId: companion.uploads[0]!.transferId },
    });
    expect(c.results.map((r) => [r.index, r.seed, r.image.width, r.image.height])).toEqual([
      [0, 42, 64, 48],
      [1, 43, 64, 48],
    ]);
    expect(Array.from(c.results[0]!.image.data.subarray(0, 4))).toEqual([200, 50, 10, 255]);
    expect(c.progress.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(c.progress.every((p) => p.preview !== null && p.total === 6)).toBe(true);
    expect(client.openJobs).toBe(0);
    expect(client.pendingImages).toBe(0);
  });

  test('cancel stops a running job; it ends cancelled', async () => {
    companion = await startLoopbackCompanion({ token: TOKEN, stepDelayMs: 20 });
    client = new CompanionClient({ url: companion.url, socketFactory: nodeSockets, backoff: fastBackoff });
    client.connect(TOKEN);
    await waitFor(client, 'ready');
    const c = collector();
    const handle = await client.submit({ params: { ...baseParams, steps: 100 }, style: null, negativeStyle: { kind: 'none' } }, c.events);
    const jobId = await c.accepted;
    handle.cancel();
    expect(await c.outcome).toEqual({ kind: 'cancelled' });
    expect(companion.received).toContainEqual({ type: 'cancel', jobId });
    expect(c.results).toEqual([]);
  });

  test('a job in flight fails with DISCONNECTED when the connection drops', async () => {
    companion = await startLoopbackCompanion({ token: TOKEN, stepDelayMs: 20 });
    client = new CompanionClient({ url: companion.url, socketFactory: nodeSockets, backoff: fastBackoff });
    client.connect(TOKEN);
    await waitFor(client, 'ready');
    const c = collector();
    await client.submit({ params: { ...baseParams, steps: 100 }, style: null, negativeStyle: { kind: 'none' } }, c.events);
    await c.accepted;
    companion.dropAll();
    expect(await c.outcome).toMatchObject({ kind: 'failed', code: 'DISCONNECTED' });
  });

  test('a request the companion rejects ends the job with its error code', async () => {
    companion = await startLoopbackCompanion({ token: TOKEN });
    client = new CompanionClient({ url: companion.url, socketFactory: nodeSockets, backoff: fastBackoff });
    client.connect(TOKEN);
    await waitFor(client, 'ready');
    const c = collector();
    // teacherSteps may not exceed steps: protocol/ refuses this on the companion side
    await client.submit({ params: { prompt: 'x', width: 64, height: 64, steps: 3, teacherSteps: 10 }, style: null, negativeStyle: { kind: 'none' } }, c.events);
    expect(await c.outcome).toMatchObject({ kind: 'failed', code: 'BAD_MESSAGE' });
    expect(client.openJobs).toBe(0);
  });

  test('submit while not connected ends at once with NOT_CONNECTED', async () => {
    client = new CompanionClient({ url: 'ws://127.0.0.1:9', socketFactory: nodeSockets });
    const c = collector();
    await client.submit({ params: baseParams, style: null, negativeStyle: { kind: 'none' } }, c.events);
    expect(await c.outcome).toMatchObject({ kind: 'failed', code: 'NOT_CONNECTED' });
  });
});

/** A socket whose send buffer the test controls, to check the client waits for it to drain. */
class BufferingSocket implements SocketLike {
  readyState = 1;
  bufferedAmount = 0;
  binaryType: SocketLike['binaryType'] = 'arraybuffer';
  sentBinary = 0;
  sentText: string[] = [];
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;
  send(data: string | ArrayBuffer | Uint8Array): void {
    if (typeof data === 'string') this.sentText.push(data);
    else this.sentBinary++;
  }
  close(): void {
    this.readyState = 3;
  }
}

test('binary chunks wait while the socket buffer is above the high-water mark', async () => {
  const socket = new BufferingSocket();
  const client = new CompanionClient({ url: 'ws://x', socketFactory: () => socket, sendHighWaterBytes: 1024 });
  client.connect(TOKEN);
  socket.onopen!({});
  const { DEFAULT_LIMITS } = await import('../../protocol');
  socket.onmessage!({
    data: JSON.stringify({
      type: 'welcome', companionVersion: 't', protocolVersion: '1.0', providers: ['cpu'], provider: 'cpu', models: [],
      engine: { ready: true }, limits: { ...DEFAULT_LIMITS, chunkBytes: 4096 },
    }),
  });
  expect(client.state.kind).toBe('ready');
  socket.bufferedAmount = 10_000;
  const c = collector();
  const submitted = client.submit({ params: baseParams, style: gradient(64, 64), negativeStyle: { kind: 'none' } }, c.events);
  await new Promise((r) => setTimeout(r, 60));
  expect(socket.sentBinary).toBe(0);
  socket.bufferedAmount = 0;
  await submitted;
  expect(socket.sentBinary).toBe(4); // 64×64×4 = 16384 bytes in 4096-byte chunks
  expect(JSON.parse(socket.sentText[socket.sentText.length - 1]!)).toMatchObject({ type: 'generate' });
  client.disconnect();
  expect(await c.outcome).toMatchObject({ kind: 'failed', code: 'DISCONNECTED' });
});

test('a 2048² upload with default settings never has more than 256 KiB in flight', async () => {
  const socket = new BufferingSocket();
  let peak = 0;
  let sizes: number[] = [];
  socket.send = (data: string | ArrayBuffer | Uint8Array) => {
    if (typeof data === 'string') return void socket.sentText.push(data);
    socket.sentBinary++;
    sizes.push(data.byteLength);
    socket.bufferedAmount += data.byteLength;
    peak = Math.max(peak, socket.bufferedAmount);
  };
  const drain = setInterval(() => (socket.bufferedAmount = Math.max(0, socket.bufferedAmount - 128 * 1024)), 1);
  const client = new CompanionClient({ url: 'ws://x', socketFactory: () => socket });
  client.connect(TOKEN);
  socket.onopen!({});
  const { DEFAULT_LIMITS } = await import('../../protocol');
  socket.onmessage!({
    data: JSON.stringify({
      type: 'welcome', companionVersion: 't', protocolVersion: '1.0', providers: ['cpu'], provider: 'cpu', models: [],
      engine: { ready: true }, limits: DEFAULT_LIMITS,
    }),
  });
  sizes = [];
  const c = collector();
  await client.submit({ params: baseParams, style: gradient(2048, 2048), negativeStyle: { kind: 'none' } }, c.events);
  clearInterval(drain);
  expect(socket.sentBinary).toBe(256); // 16 MiB in 64 KiB chunks
  expect(Math.max(...sizes)).toBeLessThanOrEqual(64 * 1024 + 32);
  expect(peak).toBeLessThanOrEqual(256 * 1024 + 64);
  client.disconnect();
  await c.outcome;
});

test('backoffDelay doubles from the initial wait and stops at the cap', () => {
  const o = { initialMs: 500, maxMs: 15_000 };
  expect([1, 2, 3, 4, 5, 6, 7, 20].map((a) => backoffDelay(a, o))).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
  expect(() => backoffDelay(0, o)).toThrow(/positive integer/);
});
