import { DEFAULT_PORT } from '../../../protocol';
import { resolveServerOptions } from '../../../companion/server/options';

const base = { token: 'x'.repeat(43), companionVersion: '0.1.0' };

test('defaults: loopback, the protocol default port, no web origins', () => {
  const o = resolveServerOptions(base);
  expect(o.host).toBe('127.0.0.1');
  expect(o.port).toBe(DEFAULT_PORT);
  expect(o.allowedOrigins).toEqual([]);
});

test.each([
  [{ host: '0.0.0.0' }, 'host'],
  [{ port: 70000 }, 'port'],
  [{ token: 'short' }, 'token'],
  [{ limits: { maxQueue: 0 } }, 'limits.maxQueue'],
  [{ limits: { chunkBytes: 2 * 1024 * 1024 } }, 'limits.chunkBytes'],
  [{ limits: { maxPayloadBytes: 1000 } }, 'limits.maxPayloadBytes'],
  [{ limits: { maxQueue: 2, maxJobsPerClient: 3 } }, 'maxJobsPerClient'],
  [{ helloTimeoutMs: -1 }, 'helloTimeoutMs'],
])('%j is refused naming %s', (patch, name) => {
  expect(() => resolveServerOptions({ ...base, ...(patch as object) })).toThrow(name);
});
