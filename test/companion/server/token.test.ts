import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { configDir, loadOrCreateToken } from '../../../companion/server/token';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-token-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the first call makes a 43-character token with mode 0600; later calls read the same one', () => {
  const cfg = path.join(dir, 'nested', 'stylestudio');
  const first = loadOrCreateToken(cfg);
  expect(first.created).toBe(true);
  expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(fs.statSync(first.file).mode & 0o777).toBe(0o600);
  expect(fs.statSync(cfg).mode & 0o077).toBe(0);
  const second = loadOrCreateToken(cfg);
  expect(second).toEqual({ token: first.token, file: first.file, created: false });
  expect(fs.readdirSync(cfg)).toEqual(['token']); // no temporary files left
});

test('a token file readable by others is tightened to 0600', () => {
  const first = loadOrCreateToken(dir);
  fs.chmodSync(first.file, 0o644);
  loadOrCreateToken(dir);
  expect(fs.statSync(first.file).mode & 0o777).toBe(0o600);
});

test('a corrupt token file is an error naming the file, not silently replaced', () => {
  fs.writeFileSync(path.join(dir, 'token'), 'short\n');
  expect(() => loadOrCreateToken(dir)).toThrow(`${path.join(dir, 'token')}: not a StyleStudio pairing token`);
});

test('configDir follows the override, XDG, macOS and Windows conventions', () => {
  expect(configDir({ STYLESTUDIO_CONFIG_DIR: '/x/y' }, 'linux')).toBe('/x/y');
  expect(configDir({ XDG_CONFIG_HOME: '/cfg' }, 'linux')).toBe('/cfg/stylestudio');
  expect(configDir({}, 'linux')).toBe(path.join(os.homedir(), '.config', 'stylestudio'));
  expect(configDir({}, 'darwin')).toBe(path.join(os.homedir(), 'Library', 'Application Support', 'StyleStudio'));
  expect(configDir({ APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, 'win32')).toBe(path.join('C:\\Users\\u\\AppData\\Roaming', 'StyleStudio'));
});
