import { JobQueue } from '../../../companion/server/queue';

const job = (id: string, clientId: number) => ({ id, clientId });

test('FIFO order with positions counting the running job', () => {
  const q = new JobQueue<{ id: string; clientId: number }>(5, 5);
  expect(q.add(job('a', 1))).toBe(0);
  expect(q.add(job('b', 2))).toBe(1);
  expect(q.startNext()?.id).toBe('a');
  expect(q.startNext()).toBeUndefined(); // one at a time
  expect(q.add(job('c', 1))).toBe(2);
  expect(q.positionOf('b')).toBe(1);
  expect(q.positionOf('c')).toBe(2);
  q.finish('a');
  expect(q.startNext()?.id).toBe('b');
  expect(q.positionOf('c')).toBe(1);
  q.assertConsistent();
});

test('caps on total and per-client jobs include the running job', () => {
  const q = new JobQueue<{ id: string; clientId: number }>(3, 2);
  q.add(job('a', 1));
  q.startNext();
  q.add(job('b', 1));
  expect(q.admit(1).ok).toBe(false);
  expect(q.admit(2).ok).toBe(true);
  q.add(job('c', 2));
  expect(q.admit(3).ok).toBe(false);
  expect(() => q.add(job('d', 3))).toThrow('maximum of 3');
});

test('removeWaiting removes only waiting jobs; finish insists on the running one', () => {
  const q = new JobQueue<{ id: string; clientId: number }>(5, 5);
  q.add(job('a', 1));
  q.add(job('b', 1));
  q.startNext();
  expect(q.removeWaiting('a')).toBe(false);
  expect(q.removeWaiting('b')).toBe(true);
  expect(q.removeWaiting('b')).toBe(false);
  expect(() => q.finish('b')).toThrow('not the running job');
  expect(q.jobsOf(1).map((j) => j.id)).toEqual(['a']);
  q.finish('a');
  expect(q.running).toBeNull();
  expect(q.waitingCount).toBe(0);
});

test('a duplicate id is refused', () => {
  const q = new JobQueue<{ id: string; clientId: number }>(5, 5);
  q.add(job('a', 1));
  expect(() => q.add(job('a', 2))).toThrow('already queued');
});
