/** Runs the built CLI (dist/companion/cli.js) as users do, with its own config dir and hub cache. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { repoRoot } from './paths';

export const CLI = path.join(repoRoot, 'dist', 'companion', 'cli.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly token: string;
  stdout(): string;
  stderr(): string;
  stop(): Promise<number | null>;
}

/** Starts `stylestudio serve --port 0` and waits for its banner. */
export function startServe(env: NodeJS.ProcessEnv, extraArgs: string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...extraArgs], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out} ${err}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /listening\s+(ws:\/\/\S+)/.exec(out)?.[1];
      const token = /token\s+(\S{43})/.exec(out)?.[1];
      if (!url || !token || !out.includes('stop with Ctrl+C')) return;
      clearTimeout(timer);
      resolve({ child, url, token, stdout: () => out, stderr: () => err, stop: async () => (child.kill('SIGTERM'), exited) });
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
}
