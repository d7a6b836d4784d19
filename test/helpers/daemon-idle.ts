/**
 * Waits until a shared daemon is idle, so a test does not inherit the jobs of the tests before it. The daemon pushes
 * nothing when its queue changes, so a fresh paired connection asks `status` until no job waits and none runs.
 * It sees every job the daemon has accepted: a test must have its generates answered before it ends (they are, when
 * it awaits `accepted` or a refusal), since a generate still in flight on a dropped socket is not visible here.
 */
import type { Status } from '../../protocol';
import { TestClient } from './ws-client';

const POLL_MS = 10;

export async function waitForIdle(daemon: { readonly url: string; readonly token: string }, timeoutMs = 30_000): Promise<Status> {
  const probe = await TestClient.paired(daemon.url, daemon.token);
  try {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const from = probe.messages.length;
      probe.send({ type: 'status' });
      const status = (await probe.waitFor((m) => m.type === 'status', timeoutMs, from)) as Status;
      if (status.queue.length === 0 && status.running === null) return status;
      if (performance.now() > deadline) {
        throw new Error(`the daemon was not idle within ${timeoutMs} ms: ${JSON.stringify(status)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    probe.close();
    await probe.closed;
  }
}
