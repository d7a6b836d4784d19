/**
 * Connection limits on the real daemon process: hello timeout, failed-attempt rate limit, connection cap, slow readers.
 * The synthetic engine (test-daemon.ts) because these need settings `serve` has no flags for (a 300 ms hello timeout,
 * 4 connections, a 2 MiB send buffer) and a slow reader needs 4 × 2048² results produced at once, in milliseconds.
 */
import { PROTOCOL_VERSION } from '../../../protocol';
import { startTestDaemon, type RunningDaemon } from '../../helpers/daemon-process';
import { TestClient } from '../../helpers/ws-client';

let daemon: RunningDaemon;
beforeAll(async () => {
  daemon = await startTestDaemon({ helloTimeoutMs: 300, pairing: { maxFailures: 3, windowMs: 60_000 }, maxConnections: 4, maxBufferedBytes: 2 * 1024 * 1024 });
});
afterAll(async () => {
  expect(daemon.alive()).toBe(true);
  await daemon.stop();
});

test('a connection that never says hello is closed with HELLO_TIMEOUT (4408)', async () => {
  const c = await TestClient.connect(daemon.url);
  expect((await c.closed).code).toBe(4408);
  expect(c.messages).toEqual([expect.objectContaining({ type: 'error', code: 'HELLO_TIMEOUT' })]);
});

test('beyond maxConnections (4): the fifth handshake is refused (503)', async () => {
  const open = await Promise.all([0, 1, 2, 3].map(() => TestClient.connect(daemon.url)));
  await expect(TestClient.connect(daemon.url)).rejects.toThrow('503');
  for (const c of open) c.terminate();
  await new Promise((resolve) => setTimeout(resolve, 100));
});

test('a client that stops reading is cut off instead of making the daemon buffer without bound', async () => {
  const slow = await TestClient.paired(daemon.url, daemon.token);
  const socket = (slow.ws as unknown as { _socket: import('node:net').Socket })._socket;
  slow.send({ type: 'generate', requestId: 'big', params: { prompt: 'p', width: 2048, height: 2048, steps: 1, variations: 4 } });
  await slow.waitFor((m) => m.type === 'accepted');
  socket.pause(); // 4 results × 16 MiB: far more than the kernel's socket buffers, so it piles up in the daemon
  const watcher = await TestClient.paired(daemon.url, daemon.token);
  let idle = false;
  for (let i = 0; i < 100 && !idle; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const from = watcher.messages.length;
    watcher.send({ type: 'status' });
    const status = await watcher.waitFor((m) => m.type === 'status', 5000, from);
    idle = status.type === 'status' && status.running === null;
  }
  expect(idle).toBe(true);
  socket.resume();
  const closed = await slow.closed;
  expect(closed.code).toBe(1006); // terminated, no close frame
  watcher.close();
});

test('after 3 wrong tokens even the right token is refused with RATE_LIMITED (4429) for the window', async () => {
  for (let i = 0; i < 3; i++) {
    const c = await TestClient.connect(daemon.url);
    c.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token: `guess-${i}` });
    expect(await c.waitFor((m) => m.type === 'error')).toMatchObject({ code: 'BAD_TOKEN' });
    expect((await c.closed).code).toBe(4401);
  }
  const c = await TestClient.connect(daemon.url);
  c.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, token: daemon.token });
  expect(await c.waitFor((m) => m.type === 'error')).toMatchObject({ code: 'RATE_LIMITED' });
  expect((await c.closed).code).toBe(4429);
});
