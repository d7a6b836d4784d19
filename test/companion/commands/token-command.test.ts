/** `stylestudio token` as users run it: show, list, revoke, rotate, and one-line errors. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../helpers/cli-process';

let dir: string;
let env: NodeJS.ProcessEnv;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stylestudio-token-cli-'));
  env = { ...process.env, STYLESTUDIO_CONFIG_DIR: dir };
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('token shows the install token; --list starts empty; --rotate replaces it; bad uses are one line and exit 1', async () => {
  const shown = await runCli(['token'], env);
  expect(shown.code).toBe(0);
  const token = /^token\s+([A-Za-z0-9_-]{43})$/m.exec(shown.stdout)![1]!;
  expect(fs.readFileSync(path.join(dir, 'token'), 'utf8').trim()).toBe(token);
  expect((await runCli(['token', '--list'], env)).stdout.trim()).toBe('no paired panels');
  const rotated = await runCli(['token', '--rotate'], env);
  expect(rotated.code).toBe(0);
  const fresh = /new token\s+(\S+)/.exec(rotated.stdout)![1]!;
  expect(fresh).not.toBe(token);
  expect(fs.readFileSync(path.join(dir, 'token'), 'utf8').trim()).toBe(fresh);
  if (process.platform !== 'win32') expect(fs.statSync(path.join(dir, 'token')).mode & 0o077).toBe(0);
  const bad = await runCli(['token', '--revoke', 'p-0000'], env);
  expect(bad.code).toBe(1);
  expect(bad.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^stylestudio: token: no paired panel has the id "p-0000"/)]);
  const both = await runCli(['token', '--rotate', '--list'], env);
  expect(both.code).toBe(1);
  expect(both.stderr).toMatch(/at most one of/);
});
