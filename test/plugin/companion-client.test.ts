import WebSocket from 'ws';
import { CompanionClient, type ConnectionState, type JobOutcome, type JobResult, type JobProgress } from '../../plugin/client/companion-client';
import { backoffDelay } from '../../plugin/client/backoff';
import type { SocketLike } from '../../plugin/client/socket';
import { startTinyServe, type TinyServe } from '../helpers/tiny-serve';
import type { RgbaImage } from '../../plugin/host/host';

const TOKEN = 'pairing-token-123';
const fastBackoff = { initialMs: 20, maxMs: 80 };

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

function gradient(width: number, height: number): RgbaImage {
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

const baseParams = { prompt: 'a lighthouse at dusk', width: 64, height: 64, steps: 3, teacherSteps: 2, variations: 2, seed: 42 };

jest.setTimeout(120_000);

describe('CompanionClient against the real companion (stylestudio serve on the tiny models)', () => {
  let daemon: TinyServe;
  let client: CompanionClient;
  /** The raw sockets the client opened, so a test can cut one as a network failure would. */
  let opened: WebSocket[] = [];
  const sockets = (url: string) => {
    const ws = new WebSocket(url).on('error', () => undefined);
    opened.push(ws);
    return ws as unknown as SocketLike;
  };

  beforeAll(async () => {
    daemon = await startTinyServe({ args: ['--max-queue', '64'] });
  });
  afterAll(async () => {
    expect(daemon.stderr()).toBe('');
    await daemon.stop();
  });
  beforeEach(() => {
    opened = [];
  });
  afterEach(() => {
    client?.disconnect();
  });

  test('pairs: the install token gets welcome and a panel token, which later connections use', async () => {
    client = new CompanionClient({ url: daemon.url, socketFactory: sockets, backoff: fastBackoff, clientInfo: { name: 'client test', version: '1' } });
    client.connect(daemon.token);
    const ready = await waitFor(client, 'ready');
    const welcome = ready.kind === 'ready' ? ready.welcome : fail('not ready');
    expect(welcome.panelToken).toMatch(/^p\./);
    expect(welcome.engine.ready).toBe(true);
    // A dropped connection comes back with the panel token: the companion lists this panel as seen again.
    opened[0]!.terminate();
    await waitFor(client, 'unreachable');
    const again = await waitFor(client, 'ready');
    expect(again.kind === 'ready' && again.welcome.panelToken).toBeUndefined(); // paired with its own token, so none is handed out
    expect(opened).toHaveLength(2);
  });

  test('a wrong token is refused with BAD_TOKEN and no reconnect', async () => {
    client = new CompanionClient({ url: daemon.url, socketFactory: sockets, backoff: fastBackoff });
    client.connect('wrong-token-0123456789');
    const refused = await waitFor(client, 'refused', 10_000);
    expect(refused).toMatchObject({ kind: 'refused', code: 'BAD_TOKEN' });
    await new Promise((r) => setTimeout(r, 200));
    expect(client.state.kind).toBe('refused');
    expect(opened).toHaveLength(1);
  });

  test('no daemon: unreachable, retrying with doubling back-off up to the cap', async () => {
    const states: ConnectionState[] = [];
    client = new CompanionClient({ url: 'ws://127.0.0.1:9', socketFactory: sockets, backoff: fastBackoff });
    client.subscribe((s) => states.push(s));
    client.connect(TOKEN);
    const waits = () => states.flatMap((s) => (s.kind === 'unreachable' ? [s.retryInMs] : []));
    await new Promise<void>((resolve) => {
      const off = client.subscribe(() => {
        if (waits().length >= 5) {
          off();
          resolve();
        }
      });
    });
    expect(waits().slice(0, 5)).toEqual([20, 40, 80, 80, 80]);
  });

  test('generate: the style image goes up in 64 KiB chunks, results and progress come back, nothing is kept', async () => {
    client = new CompanionClient({ url: daemon.url, socketFactory: sockets, backoff: fastBackoff });
    client.connect(daemon.token);
    await waitFor(client, 'ready');
    const sent: number[] = [];
    const raw = opened[0]!;
    const send = raw.send.bind(raw);
    raw.send = ((data: unknown, ...rest: unknown[]) => {
      if (typeof data !== 'string') sent.push((data as ArrayBuffer).byteLength);
      return (send as (...a: unknown[]) => void)(data, ...rest);
    }) as typeof raw.send;
    const style = gradient(700, 500); // 1.4 MB → 22 chunks of at most 64 KiB
    const c = collector();
    await client.submit({ params: baseParams, style, negativeStyle: { kind: 'drop', preset: 'colour' } }, c.events);
    expect(await c.outcome).toEqual({ kind: 'completed' });
    expect(sent).toHaveLength(22);
    expect(Math.max(...sent)).toBe(64 * 1024 + 32);
    expect(c.results.map((r) => [r.index, r.seed, r.image.width, r.image.height])).toEqual([
      [0, 42, 64, 64],
      [1, 43, 64, 64],
    ]);
    // what the daemon still had to load (earlier tests in this file may have loaded some) comes as stages, in the
    // pipeline's order, before the first step
    const all = ['loading the text encoders', 'loading the image encoder', 'loading the UNet', 'loading the VAE decoder'];
    const stages = c.progress.filter((p) => p.stage !== null).map((p) => p.stage!);
    expect(stages).toEqual(all.filter((x) => stages.includes(x)));
    const firstStep = c.progress.findIndex((p) => p.stage === null);
    expect(c.progress.slice(firstStep).every((p) => p.stage === null)).toBe(true);
    expect(c.progress.filter((p) => p.stage === null).map((p) => p.step).filter((s, i, a) => a.indexOf(s) === i)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(client.openJobs).toBe(0);
    expect(client.pendingImages).toBe(0);
  });

  test('cancel stops a job; it ends cancelled without results', async () => {
    client = new CompanionClient({ url: daemon.url, socketFactory: sockets, backoff: fastBackoff });
    client.connect(daemon.token);
    await waitFor(client, 'ready');
    const c = collector();
    const handle = await client.submit({ params: { ...baseParams, steps: 100, teacherSteps: 10 }, style: null, negativeStyle: { kind: 'none' } }, c.events);
    handle.cancel(); // before `accepted`: it goes out once the job id is known
    expect(await c.outcome).toEqual({ kind: 'cancelled' });
    expect(c.results).toEqual([]);
  });

  test('a job in flight fails with DISCONNECTED when the connection drops', async () => {
    client = new CompanionClient({ url: daemon.url, socketFactory: sockets, backoff: fastBackoff });
    client.connect(daemon.token);
    await waitFor(client, 'ready');
    const c = collector();
    await client.submit({ params: { ...baseParams, steps: 100, teacherSteps: 10 }, style: null, negativeStyle: { kind: 'none' } }, c.events);
    await c.accepted;
    opened[0]!.terminate();
    expect(await c.outcome).toMatchObject({ kind: 'failed', code: 'DISCONNECTED' });
  });

  test('a request the companion rejects ends the job with its error code', async () => {
    client = new CompanionClient({ url: daemon.url, socketFactory: sockets, backoff: fastBackoff });
    client.connect(daemon.token);
    await waitFor(client, 'ready');
    const c = collector();
    // teacherSteps may not exceed steps: protocol/ refuses this on the companion side
    await client.submit({ params: { prompt: 'x', width: 64, height: 64, steps: 3, teacherSteps: 10 }, style: null, negativeStyle: { kind: 'none' } }, c.events);
    expect(await c.outcome).toMatchObject({ kind: 'failed', code: 'BAD_MESSAGE' });
    const p = collector();
    await client.submit({ params: { prompt: 'x'.repeat(2001), width: 64, height: 64, steps: 1 }, style: null, negativeStyle: { kind: 'none' } }, p.events);
    expect(await p.outcome).toMatchObject({ kind: 'failed', code: 'PROMPT_TOO_LONG' });
    expect(client.openJobs).toBe(0);
  });

  test('submit while not connected ends at once with NOT_CONNECTED', async () => {
    client = new CompanionClient({ url: 'ws://127.0.0.1:9', socketFactory: sockets });
    const c = collector();
    await client.submit({ params: baseParams, style: null, negativeStyle: { kind: 'none' } }, c.events);
    expect(await c.outcome).toMatchObject({ kind: 'failed', code: 'NOT_CONNECTED' });
  });
});

/**
 * A companion of another major version cannot be had from this repository, so this one case answers hello with a
 * hand-written welcome of protocol 2.3 (everything else runs against the real daemon above).
 */
test('a companion of another major protocol version is refused with a message naming both versions', async () => {
  const { WebSocketServer } = await import('ws');
  const { DEFAULT_LIMITS } = await import('../../protocol');
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (ws) => ws.on('message', () => ws.send(JSON.stringify({
    type: 'welcome', companionVersion: '9', protocolVersion: '3.1', providers: [], provider: 'cpu', models: [], engine: { ready: true }, limits: DEFAULT_LIMITS,
  }))));
  const port = (wss.address() as { port: number }).port;
  const client = new CompanionClient({ url: `ws://127.0.0.1:${port}`, socketFactory: (u) => new WebSocket(u).on('error', () => undefined) as unknown as SocketLike });
  client.connect(TOKEN);
  const refused = await waitFor(client, 'refused');
  expect(refused.kind === 'refused' && refused.message).toMatch(/3\.1.*2\.\d+|2\.\d+.*3\.1/);
  client.disconnect();
  await new Promise((r) => wss.close(r));
});

function fail(what: string): never {
  throw new Error(what);
}

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
      type: 'welcome', companionVersion: 't', protocolVersion: '2.0', providers: ['cpu'], provider: 'cpu', models: [],
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
      type: 'welcome', companionVersion: 't', protocolVersion: '2.0', providers: ['cpu'], provider: 'cpu', models: [],
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
