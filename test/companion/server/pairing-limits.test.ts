/**
 * Connection limits on the real daemon process: hello timeout, failed-attempt rate limit, connection cap, slow readers.
 * The synthetic engine (test-daemon.ts) because these need settings `serve` has no flags for (a 300 ms hello timeout,
 * 4 connections, a 2 MiB send buffer) and a slow reader needs 4 × 2048² results produced at once, in milliseconds.
 */
import { PROTOCOL_VERSION } from '../../../protocol';
import { waitForIdle } from '../../helpers/daemon-idle';
import { startTestDaemon, type RunningDaemon } from '../../helpers/daemon-process';
import type { TestDaemonConfig } from '../../helpers/test-daemon';
import { TestClient } from '../../helpers/ws-client';

// A daemon per test, with only the setting it tests: the connection cap and the rate limiter are daemon-wide, so a
// shared daemon would let one test's lingering connections or failed pairings decide another's outcome, and a 300 ms
// hello timeout would close the idle connections of the cap test when the machine is slow.
let current: RunningDaemon | undefined;
async function start(config: Partial<TestDaemonConfig>): Promise<RunningDaemon> {
  current = await startTestDaemon(config);
  return current;
}
afterEach(async () => {
  if (!current) return;
  expect(current.alive()).toBe(true);
  await current.stop();
  current = undefined;
});

test('a connection that never says hello is closed with HELLO_TIMEOUT (4408)', async () => {
  const daemon = await start({ helloTimeoutMs: 300 });
  const c = await TestClient.connect(daemon.url);
  expect((await c.closed).code).toBe(4408);
  expect(c.messages).toEqual([expect.objectContaining({ type: 'error', code: 'HELLO_TIMEOUT' })]);
});

test('beyond maxConnections (4): the fifth handshake is refused (503)', async () => {
  const daemon = await start({ maxConnections: 4 });
  const open = await Promise.all([0, 1, 2, 3].map(() => TestClient.connect(daemon.url)));
  await expect(TestClient.connect(daemon.url)).rejects.toThrow('503');
  for (const c of open) c.terminate();
});

test('a client that stops reading is cut off instead of making the daemon buffer without bound', async () => {
  const daemon = await start({ maxBufferedBytes: 2 * 1024 * 1024 });
  const slow = await TestClient.paired(daemon.url, daemon.token);
  const socket = (slow.ws as unknown as { _socket: import('node:net').Socket })._socket;
  slow.send({ type: 'generate', requestId: 'big', params: { prompt: 'p', width: 2048, height: 2048, steps: 1, variations: 4 } });
  await slow.waitFor((m) => m.type === 'accepted');
  socket.pause(); // 4 results × 16 MiB: far more than the kernel's socket buffers, so it piles up in the daemon
  await waitForIdle(daemon); // the job ends although its client reads nothing
  socket.resume();
  const closed = await slow.closed;
  expect(closed.code).toBe(1006); // terminated, no close frame
});

test('after 3 wrong tokens even the right token is refused with RATE_LIMITED (4429) for the window', async () => {
  const daemon = await start({ pairing: { maxFailures: 3, windowMs: 60_000 } });
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
