/**
 * Daemon memory over many jobs (issue 6.7): the real daemon process with the SyntheticTestEngine,
 * 100 tiny jobs (64×64, 2 variations, 4 steps, previews) from 4 clients, RSS printed every 20 jobs.
 * Not a test: it prints a table. Run: `npx tsc -b && node dist/bench/daemon-rss.js [jobs]`.
 */
import { startTestDaemon } from '../test/helpers/daemon-process';
import { TestClient } from '../test/helpers/ws-client';

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 100);
  const daemon = await startTestDaemon({ stepMs: 1, limits: { maxQueue: 32, maxJobsPerClient: 8 } });
  const clients = await Promise.all([0, 1, 2, 3].map(() => TestClient.paired(daemon.url, daemon.token)));
  const rows: Array<[number, number]> = [[0, daemon.rssKiB()]];
  let done = 0;
  while (done < total) {
    const batch = Math.min(20, total - done);
    await Promise.all(Array.from({ length: batch }, async (_, i) => {
      const c = clients[i % clients.length]!;
      const requestId = `j${done + i}`;
      c.send({ type: 'generate', requestId, params: { prompt: 'rss', width: 64, height: 64, steps: 4, variations: 2, seed: done + i } });
      const m = await c.waitFor((x) => 'requestId' in x && x.requestId === requestId, 60_000);
      if (m.type !== 'accepted') throw new Error(`refused: ${JSON.stringify(m)}`);
      await c.waitFor((x) => (x.type === 'done' || x.type === 'error') && 'jobId' in x && x.jobId === m.jobId, 60_000);
    }));
    done += batch;
    for (const c of clients) {
      c.messages.length = 0; // the bench client keeps nothing, so only the daemon's memory is measured
      c.images.clear();
    }
    rows.push([done, daemon.rssKiB()]);
  }
  for (const c of clients) c.close();
  await daemon.stop();
  process.stdout.write('jobs  daemon RSS (MiB)\n');
  for (const [jobs, kib] of rows) process.stdout.write(`${String(jobs).padStart(4)}  ${(kib / 1024).toFixed(1)}\n`);
  const growth = (rows[rows.length - 1]![1] - rows[1]![1]) / 1024;
  process.stdout.write(`growth from job ${rows[1]![0]} to ${total}: ${growth.toFixed(1)} MiB\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
