/**
 * `node dist/companion/cli.js serve` exactly as users run it (same binary, same flags, same hub-cache lookup), on a
 * free port with its own config dir and HF_HUB_CACHE holding the tiny default set (tiny-model-set.ts). Tests get its
 * address, the token it printed, its RSS, and a promise that resolves once the engine says it is ready.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI } from './cli-process';
import { writeTinyDefaultSet } from './tiny-model-set';
import { TestClient } from './ws-client';

export interface TinyServeOptions {
  /** Port to bind; 0 (default) lets the daemon pick a free one, which it prints. */
  readonly port?: number;
  /** Config + cache folder to reuse (token and models survive a restart); default a fresh temp folder, removed by stop(). */
  readonly dir?: string;
  /** Lay out the tiny default set (default) or leave the cache empty (models missing). */
  readonly models?: boolean;
  /** More `serve` flags, e.g. ['--max-queue', '100']. */
  readonly args?: readonly string[];
  /** Wait until the engine is ready before resolving (default when models are laid out). */
  readonly waitReady?: boolean;
  /** Hub to download from instead of none (e.g. tiny-hub.ts's endpoint). */
  readonly hubEndpoint?: string;
}

export interface TinyServe {
  readonly url: string;
  readonly port: number;
  readonly token: string;
  readonly dir: string;
  readonly child: ChildProcess;
  /** Everything printed on stdout so far (banner, download lines). */
  stdout(): string;
  /** Everything printed on stderr so far: a crash trace would land here. */
  stderr(): string;
  alive(): boolean;
  /** Resident set size in KiB, from /proc/PID/status. */
  rssKiB(): number;
  /** SIGTERM, then the exit code (SIGKILL after 10 s). */
  stop(): Promise<number | null>;
}

const BANNER_MS = 30_000;
const READY_MS = 180_000;

export async function startTinyServe(options: TinyServeOptions = {}): Promise<TinyServe> {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: build with tsc -b first`);
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'stylestudio-tiny-serve-'));
  const hub = path.join(dir, 'hub');
  const withModels = options.models ?? true;
  if (withModels && !fs.existsSync(hub)) writeTinyDefaultSet(hub);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    STYLESTUDIO_CONFIG_DIR: path.join(dir, 'config'),
    HF_HUB_CACHE: hub,
    HF_HOME: '',
    ...(options.hubEndpoint
      ? { HF_ENDPOINT: options.hubEndpoint, HF_HUB_OFFLINE: '' }
      : { HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:9' }), // by default nothing may be fetched: a download fails at once
  };
  const child = spawn(process.execPath, [CLI, 'serve', '--port', String(options.port ?? 0), ...(options.args ?? [])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let exitCode: number | null | undefined;
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => {
    exitCode = code ?? (signal ? 128 : null);
    resolve(exitCode);
  }));
  const cleanup = (): void => {
    if (!options.dir) fs.rmSync(dir, { recursive: true, force: true });
  };
  const stop = async (): Promise<number | null> => {
    if (exitCode === undefined) {
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(kill);
    }
    cleanup();
    return exitCode ?? null;
  };

  try {
    const banner = await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve printed no banner within ${BANNER_MS} ms:\n${out}\n${err}`)), BANNER_MS);
      const check = (): void => {
        if (!out.includes('stop with Ctrl+C')) return;
        const m = /^\s*listening\s+ws:\/\/127\.0\.0\.1:(\d+)\s*\n[\s\S]*?^\s*token\s+(\S+)\s*$/m.exec(out);
        if (!m) return reject(new Error(`serve's banner has no address and token:\n${out}`));
        clearTimeout(timer);
        resolve(m);
      };
      child.stdout!.on('data', check);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`serve exited with ${code} before its banner:\n${out}\n${err}`));
      });
    });
    const port = Number(banner[1]);
    const serve: TinyServe = {
      url: `ws://127.0.0.1:${port}`, port, token: banner[2]!, dir, child,
      stdout: () => out, stderr: () => err,
      alive: () => exitCode === undefined,
      rssKiB: () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? NaN),
      stop,
    };
    if (options.waitReady ?? withModels) await engineReady(serve);
    return serve;
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * Waits until a fresh pairing's `welcome` says the engine is ready (the daemon opens the model folders and
 * probes providers after it starts listening). Fails with the engine's reason if it stops loading.
 */
async function engineReady(serve: TinyServe): Promise<void> {
  const deadline = Date.now() + READY_MS;
  for (;;) {
    if (!serve.alive()) throw new Error(`serve exited while loading the models:\n${serve.stdout()}\n${serve.stderr()}`);
    const client = await TestClient.connect(serve.url);
    const welcome = await client.hello(serve.token);
    client.close();
    if (welcome.engine.ready) return;
    if (!/loading/i.test(welcome.engine.reason ?? '')) throw new Error(`the engine will not be ready: ${welcome.engine.reason}`);
    if (Date.now() > deadline) throw new Error(`the engine was not ready within ${READY_MS} ms: ${welcome.engine.reason}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
