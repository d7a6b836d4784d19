/**
 * Daemon memory under the adversarial suite (issue 13): the real `stylestudio serve` on the tiny default model set,
 * loopback only, run through test/helpers/attacks.ts twice — 2,400 malformed messages, every attack scenario, then
 * 8 clients × 10 real jobs with cancels and disconnects — with the daemon's RSS after each phase. The second pass
 * shows whether memory keeps growing or settles. Not a test: it prints a table.
 * Run: `npx tsc -b && node dist/bench/adversarial-rss.js [passes]`.
 */
import { ATTACKS, jobStorm, malformedFrames, malformedTexts, sendMalformed } from '../test/helpers/attacks';
import { startTinyServe } from '../test/helpers/tiny-serve';

async function main(): Promise<void> {
  const passes = Number(process.argv[2] ?? 2);
  if (!Number.isInteger(passes) || passes < 1 || passes > 5) throw new Error(`passes must be 1…5, got ${process.argv[2]}`);
  const t0 = performance.now();
  const daemon = await startTinyServe({ args: ['--max-queue', '100'] });
  const rows: Array<[string, number, number]> = [['ready (engine loaded)', daemon.rssKiB(), 0]];
  const phase = async (name: string, work: () => Promise<unknown>): Promise<void> => {
    const p0 = performance.now();
    await work();
    rows.push([name, daemon.rssKiB(), (performance.now() - p0) / 1000]);
  };
  try {
    for (let pass = 1; pass <= passes; pass++) {
      await phase(`pass ${pass}: 2,400 malformed messages`, () => sendMalformed(daemon, malformedTexts(2000, 1301 + pass), malformedFrames(400, 1401 + pass)));
      await phase(`pass ${pass}: ${ATTACKS.length} attack scenarios`, async () => {
        for (const attack of ATTACKS) await attack.run(daemon);
      });
      await phase(`pass ${pass}: 8 clients × 10 jobs`, () => jobStorm(daemon, 8, 10, 1501 + pass));
    }
    if (!daemon.alive() || daemon.stderr() !== '') throw new Error(`the daemon failed: ${daemon.stderr()}`);
    process.stdout.write(`real serve, tiny default model set, CPU; ${passes} passes of the adversarial suite; ${((performance.now() - t0) / 1000).toFixed(0)} s in all\n`);
    process.stdout.write('phase                                      daemon RSS (MiB)  seconds\n');
    for (const [name, kib, s] of rows) process.stdout.write(`${name.padEnd(42)} ${(kib / 1024).toFixed(1).padStart(16)}  ${s === 0 ? '' : s.toFixed(1).padStart(7)}\n`);
    const first = rows.findIndex((r) => r[0].startsWith('pass 1: 8 clients'));
    const last = rows[rows.length - 1]!;
    process.stdout.write(`RSS growth over the whole run: ${((last[1] - rows[0]![1]) / 1024).toFixed(1)} MiB; after the first pass: ${((last[1] - rows[first]![1]) / 1024).toFixed(1)} MiB\n`);
  } finally {
    await daemon.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
