/** Starts test-daemon.js as a child process and gives tests its address, token and RSS. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestDaemonConfig } from './test-daemon';

export interface RunningDaemon {
  readonly url: string;
  readonly port: number;
  readonly token: string;
  readonly proc: ChildProcess;
  /** Everything the daemon wrote to stderr (crash traces would land here). */
  stderr(): string;
  alive(): boolean;
  /** Resident set size in KiB, from /proc. */
  rssKiB(): number;
  stop(): Promise<number | null>;
}

export const TEST_TOKEN = 'test-token-0123456789abcdefghijklmnopqrstuvw';

export function startTestDaemon(config: Partial<TestDaemonConfig> = {}): Promise<RunningDaemon> {
  const token = config.token ?? TEST_TOKEN;
  const proc = spawn(process.execPath, [path.join(__dirname, 'test-daemon.js'), JSON.stringify({ ...config, token })], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => {
    exitCode = code;
    resolve(code);
  }));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`test daemon did not start: ${stderr}`)), 20_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      const port = Number(m[1]);
      resolve({
        url: `ws://127.0.0.1:${port}`, port, token, proc,
        stderr: () => stderr,
        alive: () => exitCode === undefined,
        rssKiB: () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1] ?? NaN),
        stop: async () => {
          if (exitCode === undefined) proc.kill('SIGTERM');
          return exited;
        },
      });
    });
    proc.on('exit', (code) => reject(new Error(`test daemon exited with ${code}: ${stderr}`)));
  });
}
