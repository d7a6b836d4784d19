/**
 * Issue 13 item 11: the adversarial suite against the real daemon — `stylestudio serve` on the tiny default model
 * set, loopback only — at the scale: 2,400 malformed messages (2,000 text + 400 binary), the 60+ attack
 * scenarios of test/helpers/attacks.ts, and 8 clients × 10 real jobs with cancels and disconnects. The daemon must
 * stay up with nothing on stderr, answer every malformed message with one documented code (never INTERNAL), and
 * end idle. Its RSS before and after is printed (bench/adversarial-rss.ts records it in docs/BENCHMARKS.md).
 */
import { ATTACKS, jobStorm, malformedFrames, malformedTexts, sendMalformed, waitIdle } from '../../helpers/attacks';
import { startTinyServe, type TinyServe } from '../../helpers/tiny-serve';

jest.setTimeout(300_000);

let daemon: TinyServe;
let rssBefore = 0;

beforeAll(async () => {
  daemon = await startTinyServe({ args: ['--max-queue', '100'] });
  rssBefore = daemon.rssKiB();
});
afterAll(async () => {
  const after = daemon.rssKiB();
  console.log(`daemon RSS ${(rssBefore / 1024).toFixed(0)} MiB before the suite, ${(after / 1024).toFixed(0)} MiB after`);
  expect(daemon.alive()).toBe(true);
  expect(daemon.stderr()).toBe('');
  expect(await daemon.stop()).toBe(0);
});

test('2,400 malformed messages: one documented error each for text, at most one for binary, never INTERNAL', async () => {
  const stats = await sendMalformed(daemon, malformedTexts(2000, 1301), malformedFrames(400, 1302));
  console.log(`malformed: ${stats.text} text, ${stats.binary} binary; codes ${JSON.stringify(stats.codes)}`);
  expect(stats.text + stats.binary).toBeGreaterThanOrEqual(2000);
  expect(stats.codes.INTERNAL).toBeUndefined();
  await waitIdle(daemon);
});

test(`at least 50 attack scenarios (${ATTACKS.length} here)`, () => {
  expect(ATTACKS.length).toBeGreaterThanOrEqual(50);
  expect(new Set(ATTACKS.map((a) => a.name)).size).toBe(ATTACKS.length);
});

describe('attack scenarios', () => {
  test.each(ATTACKS.map((a) => [a.name, a] as const))('%s', async (_name, attack) => {
    await attack.run(daemon);
    expect(daemon.alive()).toBe(true);
  });
});

test('8 clients × 10 jobs with cancels and disconnects: every job ends once, completed ones with all results, the queue drains', async () => {
  const stats = await jobStorm(daemon, 8, 10, 1303);
  console.log(`storm: ${JSON.stringify(stats)}`);
  expect(stats.submitted).toBeGreaterThanOrEqual(40);
  expect(stats.completed).toBeGreaterThan(0);
  expect(stats.cancelled).toBeGreaterThan(0);
  expect(stats.dropped).toBe(2);
});
