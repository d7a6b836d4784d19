/**
 * The glibc re-run (runtime/allocator.ts): the child gets the allocator setting, its exit code is the program's, and a
 * child ended by a signal is reported with the signal's name and exits as a shell reports it (128 + its number).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MMAP_THRESHOLD_BYTES } from '../../../companion/runtime/allocator';
import { repoRoot } from '../../helpers/paths';

const ALLOCATOR = path.join(repoRoot, 'dist', 'companion', 'runtime', 'allocator.js');

let dir: string;
let script: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stylestudio-allocator-'));
  script = path.join(dir, 'program.js');
  // the parent re-runs itself as cli.ts does; the re-run prints its setting and ends as argv[2] says
  fs.writeFileSync(script, `
const a = require(${JSON.stringify(ALLOCATOR)});
if (process.env.STYLESTUDIO_ALLOCATOR === undefined) {
  a.rerunWithAllocator().then((code) => { process.exitCode = code; });
} else {
  a.exitWithParent();
  process.stdout.write(process.env.MALLOC_MMAP_THRESHOLD_ + '\\n');
  if (process.argv[2] === 'crash') process.kill(process.pid, 'SIGSEGV');
  else process.exit(Number(process.argv[2]));
}
`);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const run = (arg: string) => {
  const env = { ...process.env };
  delete env['STYLESTUDIO_ALLOCATOR'];
  delete env['MALLOC_MMAP_THRESHOLD_'];
  return spawnSync(process.execPath, [script, arg], { env, encoding: 'utf8' });
};

test('the re-run gets the mmap threshold and its exit code is the program\'s', () => {
  const r = run('3');
  expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 3, stdout: `${MMAP_THRESHOLD_BYTES}\n`, stderr: '' });
});

test('a re-run ended by a signal is named on stderr and exits 128 + the signal number', () => {
  const r = run('crash');
  expect(r.status).toBe(128 + os.constants.signals.SIGSEGV);
  expect(r.stderr).toBe('stylestudio: the companion process ended by SIGSEGV\n');
});
