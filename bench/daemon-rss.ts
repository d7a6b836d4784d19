/**
 * Daemon memory over many jobs (issue 6.7): the real `stylestudio serve` process (test/helpers/tiny-serve.ts) on the
 * tiny default model set, 100 StyleStudio jobs (64×64 style upload, 64×64 output, 2 variations, 4 steps, teacher and
 * AdaIN on, previews) from 4 clients, the daemon's RSS printed every 20 jobs. Not a test: it prints a table.
 * Run: `npx tsc -b && node dist/bench/daemon-rss.js [jobs]`; `npm run bench` runs it as section (e).
 */
import { encodeImageFrames, FrameKind } from '../protocol';
import { startTinyServe } from '../test/helpers/tiny-serve';
import { TestClient } from '../test/helpers/ws-client';

const SIDE = 64;

/** A deterministic 64×64 style image: diagonal colour bands, so the image encoder sees structure, not a flat field. */
function styleImage(seed: number): Uint8Array {
  const rgba = new Uint8Array(SIDE * SIDE * 4);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const i = (y * SIDE + x) * 4;
      rgba[i] = (x * 4 + seed * 37) & 255;
      rgba[i + 1] = (y * 4 + seed * 11) & 255;
      rgba[i + 2] = ((x + y) * 2) & 255;
      rgba[i + 3] = 255;
    }
  }
  return rgba;
}

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 100);
  if (!Number.isInteger(total) || total < 1) throw new Error(`jobs must be a positive integer, got ${process.argv[2]}`);
  const t0 = performance.now();
  const daemon = await startTinyServe({ args: ['--max-queue', '32'] });
  try {
    const clients = await Promise.all([0, 1, 2, 3].map(() => TestClient.paired(daemon.url, daemon.token)));
    const rows: Array<[number, number, number]> = [[0, daemon.rssKiB(), 0]];
    let done = 0;
    while (done < total) {
      const batch = Math.min(20, total - done);
      const b0 = performance.now();
      await Promise.all(Array.from({ length: batch }, async (_, i) => {
        const c = clients[i % clients.length]!;
        const n = done + i;
        const requestId = `j${n}`;
        for (const frame of encodeImageFrames(FrameKind.upload, n, SIDE, SIDE, styleImage(n))) c.sendBinary(frame);
        c.send({ type: 'generate', requestId, params: { prompt: 'rss', width: SIDE, height: SIDE, steps: 4, variations: 2, seed: n, style: { transferId: n } } });
        const m = await c.waitFor((x) => 'requestId' in x && x.requestId === requestId, 120_000);
        if (m.type !== 'accepted') throw new Error(`refused: ${JSON.stringify(m)}`);
        const end = await c.waitFor((x) => (x.type === 'done' || x.type === 'error') && 'jobId' in x && x.jobId === m.jobId, 120_000);
        if (end.type !== 'done' || end.outcome !== 'completed') throw new Error(`job ${n} did not complete: ${JSON.stringify(end)}`);
      }));
      done += batch;
      for (const c of clients) {
        c.messages.length = 0; // the bench client keeps nothing, so only the daemon's memory is measured
        c.images.clear();
      }
      rows.push([done, daemon.rssKiB(), (performance.now() - b0) / batch]);
    }
    for (const c of clients) c.close();
    if (!daemon.alive() || daemon.stderr() !== '') throw new Error(`the daemon failed: ${daemon.stderr()}`);
    process.stdout.write(`real serve, tiny default model set, CPU; ${total} jobs (64×64, 2 variations, 4 steps, style + teacher + AdaIN) from 4 clients; ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s in all\n`);
    process.stdout.write('jobs  daemon RSS (MiB)  ms per job in the last batch\n');
    for (const [jobs, kib, ms] of rows) process.stdout.write(`${String(jobs).padStart(4)}  ${(kib / 1024).toFixed(1).padStart(16)}  ${jobs === 0 ? '' : ms.toFixed(0).padStart(28)}\n`);
    const growth = (rows[rows.length - 1]![1] - rows[1]![1]) / 1024;
    process.stdout.write(`RSS growth from job ${rows[1]![0]} to ${total}: ${growth.toFixed(1)} MiB\n`);
  } finally {
    await daemon.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
