import { PROTOCOL_VERSION } from '../../protocol/version';

test('protocol version is major.minor with major 1', () => {
  expect(PROTOCOL_VERSION).toMatch(/^1\.\d+$/);
});
