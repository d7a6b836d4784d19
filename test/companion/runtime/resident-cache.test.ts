import { EngineError } from '../../../companion/runtime/errors';
import { ResidentCache } from '../../../companion/runtime/resident-cache';

class Thing {
  released = false;
  constructor(readonly name: string, readonly log: string[]) {}
  async release(): Promise<void> {
    this.released = true;
    this.log.push(`release ${this.name}`);
  }
}

function setup(budget: number) {
  const log: string[] = [];
  const cache = new ResidentCache(budget);
  const lease = (key: string, bytes: number) => cache.lease(key, key, bytes, async () => {
    log.push(`create ${key}`);
    return new Thing(key, log);
  });
  return { cache, log, lease };
}

test('a hit reuses the entry; a miss that does not fit releases unpinned entries, least recently used first', async () => {
  const { cache, log, lease } = setup(100);
  (await lease('a', 40)).done();
  (await lease('b', 40)).done();
  (await lease('a', 40)).done(); // a is now the most recently used
  expect(cache.created).toBe(2);
  const c = await lease('c', 40);
  expect(log).toEqual(['create a', 'create b', 'release b', 'create c']);
  expect(cache.list().map((e) => e.key)).toEqual(['a', 'c']);
  expect(cache.accountedBytes).toBe(80);
  c.done();
});

test('pinned entries are never released; when they leave too little room the lease fails with the figures', async () => {
  const { cache, lease } = setup(2 ** 30);
  const held = await lease('unet', 0.8 * 2 ** 30);
  const err = await lease('vae-decoder', 0.5 * 2 ** 30).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(EngineError);
  expect((err as EngineError).code).toBe('MEMORY_BUDGET');
  expect((err as EngineError).message).toBe('the vae-decoder needs 0.5 GiB but the memory budget is 1.0 GiB and unet 0.8 GiB must stay loaded (raise it with --memory-budget, or use a smaller size)');
  expect(cache.has('unet')).toBe(true);
  held.done();
  held.done(); // twice is harmless
  const vae = await lease('vae-decoder', 0.5 * 2 ** 30);
  expect(cache.list().map((e) => e.key)).toEqual(['vae-decoder']);
  vae.done();
});

test('a failed creation leaves nothing accounted; the next lease creates again', async () => {
  const cache = new ResidentCache(100);
  await expect(cache.lease('x', 'x', 10, async () => { throw new Error('boom'); })).rejects.toThrow('boom');
  expect(cache.accountedBytes).toBe(0);
  expect(cache.list()).toEqual([]);
  const l = await cache.lease('x', 'x', 10, async () => ({ release: async () => {} }));
  expect(cache.created).toBe(1);
  l.done();
});

test('concurrent leases of one key share one creation', async () => {
  const { cache, lease } = setup(100);
  const [a, b] = await Promise.all([lease('k', 10), lease('k', 10)]);
  expect(a.value).toBe(b.value);
  expect(cache.created).toBe(1);
  expect(cache.list()[0]!.pins).toBe(2);
  a.done();
  b.done();
  expect(cache.list()[0]!.pins).toBe(0);
});

test('dropUnpinned, drop and clear release what they may and report each release', async () => {
  const { cache, lease } = setup(100);
  const events: string[] = [];
  cache.onChange((e) => events.push(`${e.kind} ${e.entry.key}`));
  const a = await lease('a', 10);
  (await lease('b', 10)).done();
  expect(await cache.drop('a')).toBe(false); // leased
  await cache.dropUnpinned();
  expect(cache.list().map((e) => e.key)).toEqual(['a']);
  a.done();
  expect(await cache.drop('a')).toBe(true);
  (await lease('c', 10));
  await cache.clear();
  expect(cache.list()).toEqual([]);
  expect(events).toEqual(['created a', 'created b', 'released b', 'released a', 'created c', 'released c']);
});

test('a budget must be positive', () => {
  expect(() => new ResidentCache(0)).toThrow(expect.objectContaining({ code: 'BAD_BUDGET' }));
});

test("done('evict-first') makes an entry the first candidate for release", async () => {
  const { cache, log, lease } = setup(100);
  (await lease('unet', 40)).done();
  (await lease('text', 40)).done('evict-first');
  (await lease('image', 40)).done();
  expect(log.slice(-2)).toEqual(['release text', 'create image']);
  expect(cache.list().map((e) => e.key)).toEqual(['unet', 'image']);
});
