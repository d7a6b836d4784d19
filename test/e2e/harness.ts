/**
 * End-to-end plumbing: builds the panel's test page with webpack, starts companions as real processes,
 * and launches Debian's Chromium through playwright-core (no browser download).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from '../helpers/paths';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags known to work in this CI's sandbox: no GPU, no background network traffic, no sandbox as root. */
const CHROMIUM_FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}

/** Builds dist/e2e-page/ (the real panel over a canvas document) with webpack's Node API. */
export async function buildTestPage(): Promise<string> {
  const webpack = require('webpack') as (config: unknown, cb: (err: Error | null, stats?: { hasErrors(): boolean; toString(o: unknown): string }) => void) => void;
  const configs = require(path.join(repoRoot, 'webpack.config.js')) as Array<{ name: string }>;
  const config = configs.find((c) => c.name === 'e2e-page');
  if (!config) throw new Error('webpack.config.js has no "e2e-page" configuration');
  await new Promise<void>((resolve, reject) =>
    webpack(config, (err, stats) => {
      if (err) return reject(err);
      if (stats?.hasErrors()) return reject(new Error(stats.toString({ all: false, errors: true })));
      resolve();
    }),
  );
  return path.join(repoRoot, 'dist', 'e2e-page', 'index.html');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface CompanionProcess {
  readonly url: string;
  readonly token: string;
  readonly output: () => string;
  stop(): Promise<void>;
}

/** Waits until the process prints a line matching `pattern`; fails with everything it printed. */
function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<{ match: RegExpMatchArray; output: () => string }> {
  let text = '';
  const output = () => text;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${text}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const match = text.match(pattern);
      if (match) {
        clearTimeout(timer);
        resolve({ match, output });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => (text += c.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ${pattern}; output:\n${text}`));
    });
  });
}

function stopper(child: ChildProcess, cleanup: () => void): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        cleanup();
        return resolve();
      }
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(kill);
        cleanup();
        resolve();
      });
      child.kill('SIGTERM');
    });
}

export interface ServeOptions {
  /** Reuse a port (to restart a companion where the panel expects it). */
  readonly port?: number;
  /** Reuse a config dir (the token survives restarts, as for a user). */
  readonly dir?: string;
}

/**
 * `stylestudio serve` exactly as a user runs it, on a free port, with a fresh config dir (so a new
 * token) and an empty model cache. Its token is read from what it prints. `stop()` keeps the config
 * dir when it was passed in; otherwise it removes it.
 */
export async function startServeCli(options: ServeOptions = {}): Promise<CompanionProcess & { port: number; dir: string }> {
  const cli = path.join(repoRoot, 'dist', 'companion', 'cli.js');
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: build with tsc -b first`);
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'stylestudio-e2e-'));
  const port = options.port ?? (await freePort());
  // The test page is a file:// page, whose Origin is "null": allowed here with the documented --allow-origin.
  const child = spawn(process.execPath, [cli, 'serve', '--port', String(port), '--models', path.join(dir, 'models'), '--allow-origin', 'null'], {
    env: { ...process.env, STYLESTUDIO_CONFIG_DIR: path.join(dir, 'config'), HF_HUB_OFFLINE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { match, output } = await waitForOutput(child, /token\s+([A-Za-z0-9_-]{20,})[\s\S]*stop with Ctrl\+C/, 20_000);
  const cleanup = () => {
    if (!options.dir) fs.rmSync(dir, { recursive: true, force: true });
  };
  return { url: `ws://127.0.0.1:${port}`, token: match[1]!, output, port, dir, stop: stopper(child, cleanup) };
}

/** Waits until the locator's text is `expected` (trimmed) or matches it; the error names the last text seen. */
export async function expectText(locator: ReturnType<Page['locator']>, expected: string | RegExp, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = (await locator.textContent({ timeout: timeoutMs }).catch(() => '')) ?? '';
    if (typeof expected === 'string' ? last.trim() === expected : expected.test(last)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`expected ${String(expected)}, last saw ${JSON.stringify(last)}`);
}

/** Opens the built panel page pointed at a companion, collecting page errors and console errors. */
export async function openPanelPage(browser: Browser, pageFile: string, url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 860, height: 1180 } });
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  await page.goto(`file://${pageFile}?url=${encodeURIComponent(url)}`);
  await page.waitForSelector('[data-testid=connection-title]');
  return { page, problems };
}
