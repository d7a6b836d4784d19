import { checkUpgrade, FailureLimiter, tokensEqual } from '../../../companion/server/auth';

describe('checkUpgrade', () => {
  test.each([
    ['127.0.0.1:47821', undefined],
    ['localhost:47821', undefined],
    ['LOCALHOST:47821', undefined],
    ['[::1]:47821', undefined],
    ['127.0.0.1', undefined],
    ['127.0.0.1:47821', 'null'],
    ['127.0.0.1:47821', 'uxp://com.stylestudio.panel'],
    ['127.0.0.1:47821', 'file://'],
  ])('accepts Host %s with Origin %s', (host, origin) => {
    expect(checkUpgrade({ host, origin }, 47821, [])).toEqual({ ok: true });
  });

  test.each([
    ['evil.example:47821', undefined, 'Host'],
    ['127.0.0.1.evil.example:47821', undefined, 'Host'],
    ['', undefined, 'Host'],
    ['10.0.0.5:47821', undefined, 'Host'],
    ['127.0.0.1:8080', undefined, 'port'],
    ['127.0.0.1:47821', 'https://evil.example', 'Origin'],
    ['127.0.0.1:47821', 'http://127.0.0.1:47821', 'Origin'],
    ['localhost:47821', 'HTTP://localhost', 'Origin'],
  ])('refuses Host %s with Origin %s (names the %s)', (host, origin, what) => {
    const verdict = checkUpgrade({ host, origin }, 47821, []);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) {
      expect(verdict.status).toBe(403);
      expect(verdict.reason).toContain(what);
    }
  });

  test('an explicitly allowed web origin passes', () => {
    expect(checkUpgrade({ host: '127.0.0.1:1', origin: 'http://127.0.0.1:9000' }, 1, ['http://127.0.0.1:9000']).ok).toBe(true);
  });
});

test('tokensEqual compares whole strings of any length', () => {
  expect(tokensEqual('abc', 'abc')).toBe(true);
  expect(tokensEqual('abc', 'abd')).toBe(false);
  expect(tokensEqual('abc', 'abcd')).toBe(false);
  expect(tokensEqual('', 'abc')).toBe(false);
});

test('FailureLimiter blocks after maxFailures inside the window and forgets old failures', () => {
  let now = 1000;
  const limiter = new FailureLimiter(3, 60_000, () => now);
  limiter.recordFailure();
  limiter.recordFailure();
  expect(limiter.blocked()).toBe(false);
  limiter.recordFailure();
  expect(limiter.blocked()).toBe(true);
  now += 59_999;
  expect(limiter.blocked()).toBe(true);
  now += 2;
  expect(limiter.blocked()).toBe(false);
});
