import { checkUpgrade, PairingBackoff, tokensEqual } from '../../../companion/server/auth';

describe('checkUpgrade', () => {
  test.each([
    ['127.0.0.1:47821', undefined],
    ['localhost:47821', undefined],
    ['LOCALHOST:47821', undefined],
    ['[::1]:47821', undefined],
    ['127.0.0.1', undefined],
    ['127.0.0.1:47821', 'uxp://com.stylestudio.photoshop'],
    ['127.0.0.1:47821', 'UXP://x'],
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
    ['127.0.0.1:47821', 'null', 'Origin'],
    ['127.0.0.1:47821', ' null', 'Origin'],
    ['127.0.0.1:47821', 'file://', 'Origin'],
    ['127.0.0.1:47821', 'chrome-extension://abcdef', 'Origin'],
    ['127.0.0.1:47821', 'moz-extension://abcdef', 'Origin'],
    ['127.0.0.1:47821', 'data:', 'Origin'],
    ['127.0.0.1:47821', '', 'Origin'],
  ])('refuses Host %s with Origin %s (names the %s)', (host, origin, what) => {
    const verdict = checkUpgrade({ host, origin }, 47821, []);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) {
      expect(verdict.status).toBe(403);
      expect(verdict.reason).toContain(what);
    }
  });

  test('an explicitly allowed web origin (or null) passes; a similar one does not', () => {
    expect(checkUpgrade({ host: '127.0.0.1:1', origin: 'http://127.0.0.1:9000' }, 1, ['http://127.0.0.1:9000']).ok).toBe(true);
    expect(checkUpgrade({ host: '127.0.0.1:1', origin: 'null' }, 1, ['null']).ok).toBe(true);
    expect(checkUpgrade({ host: '127.0.0.1:1', origin: 'http://127.0.0.1:9001' }, 1, ['http://127.0.0.1:9000']).ok).toBe(false);
  });
});

test('tokensEqual compares whole strings of any length', () => {
  expect(tokensEqual('abc', 'abc')).toBe(true);
  expect(tokensEqual('abc', 'abd')).toBe(false);
  expect(tokensEqual('abc', 'abcd')).toBe(false);
  expect(tokensEqual('', 'abc')).toBe(false);
});

test('PairingBackoff doubles the wait per recent failure, caps it, and forgets failures outside the window', () => {
  let now = 1000;
  const backoff = new PairingBackoff(100, 1000, 60_000, () => now);
  expect([backoff.failure(), backoff.failure(), backoff.failure(), backoff.failure(), backoff.failure()]).toEqual([100, 200, 400, 800, 1000]);
  now += 60_001;
  expect(backoff.failure()).toBe(100);
});
