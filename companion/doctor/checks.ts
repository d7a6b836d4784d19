/**
 * `stylestudio doctor`'s checks. Each returns ok / warn / fail with a one-line detail and, when
 * something is wrong, the fix. Checks only look; they change nothing.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { modelStatuses } from '../weights/model-catalog';
import { checkWeightFiles, defaultSetPaths } from '../runtime/model-paths';
import { formatGB } from '../weights/model-catalog';
import { tokenPath } from '../server/token';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  readonly status: CheckStatus;
  readonly label: string;
  readonly detail: string;
  readonly fix?: string;
}

/** One execution provider tried for real: did a tiny session run on it? */
export interface ProviderProbe {
  readonly name: string;
  readonly works: boolean;
  readonly detail: string;
}

const ok = (label: string, detail: string): CheckResult => ({ status: 'ok', label, detail });
const warn = (label: string, detail: string, fix?: string): CheckResult => (fix ? { status: 'warn', label, detail, fix } : { status: 'warn', label, detail });
const fail = (label: string, detail: string, fix: string): CheckResult => ({ status: 'fail', label, detail, fix });

export function checkNode(version: string = process.versions.node): CheckResult {
  const major = Number(version.split('.')[0]);
  return major >= 20 ? ok('node', `v${version}`) : fail('node', `v${version} is too old`, 'install Node.js 20 or newer');
}

/** onnxruntime-node's version from its package.json (the package is not loaded here). */
export function checkOnnxRuntime(): CheckResult {
  let pkgFile: string;
  try {
    pkgFile = require.resolve('onnxruntime-node/package.json');
  } catch {
    return fail('onnxruntime', 'onnxruntime-node is not installed', 'run `npm ci` in the companion folder');
  }
  const version = (JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { version: string }).version;
  return version.startsWith('1.30.') ? ok('onnxruntime', `onnxruntime-node ${version}`) : warn('onnxruntime', `onnxruntime-node ${version}; the engine is built and tested against 1.30`, 'run `npm ci` to get the locked version');
}

export function checkProviders(probes: readonly ProviderProbe[] | undefined): CheckResult[] {
  if (probes === undefined) {
    return [warn('providers', 'not probed: this build has no execution-provider probe yet; CPU is always available')];
  }
  return probes.map((p) => (p.works ? ok(`provider ${p.name}`, p.detail) : warn(`provider ${p.name}`, p.detail)));
}

/** The part of a provider self-check (onnx/self-check.ts VerifyResult) that doctor prints. */
export interface GpuSelfCheck {
  readonly provider: string;
  readonly lowering: { readonly kind: string; readonly precision: string };
  readonly passed: boolean;
  readonly maxRel: number;
  readonly bound: number;
  readonly nodesByProvider: Readonly<Record<string, number>>;
  readonly msPerStep: number;
  readonly code?: string;
  readonly reason?: string;
}

/** One line per provider × lowering self-check: pass/fail, max relative error vs the CPU, nodes per provider, ms. */
export function checkGpuSelfTests(checks: readonly GpuSelfCheck[]): CheckResult[] {
  if (checks.length === 0) return [warn('gpu self-check', 'no GPU execution provider is offered by onnxruntime-node on this platform')];
  return checks.map((c) => {
    const label = `gpu ${c.provider} ${c.lowering.kind} ${c.lowering.precision}`;
    const nodes = Object.entries(c.nodesByProvider).map(([p, n]) => `${n} nodes on ${p}`).join(', ') || 'no nodes ran';
    if (c.passed) {
      return ok(label, `pass: max rel ${c.maxRel.toExponential(1)} vs CPU (bound ${c.bound}), ${nodes}, ${c.msPerStep.toFixed(1)} ms/step`);
    }
    const why = `${c.code ?? 'FAILED'}: ${c.reason ?? 'failed'}`;
    return c.code === 'PROVIDER_UNAVAILABLE'
      ? warn(label, why, 'see docs/GPU.md for what this provider needs')
      : fail(label, why, 'the engine will not use this combination; report it with `stylestudio doctor --gpu` output');
  });
}

/** Shared libraries the CUDA 12 build of onnxruntime's CUDA provider loads. */
export const CUDA_LIBRARIES = ['libcudart.so.12', 'libcublas.so.12', 'libcublasLt.so.12', 'libcufft.so.11', 'libcurand.so.10', 'libcudnn.so.9'] as const;

/** Folders and the ldconfig cache where the dynamic loader would find libraries. */
export const STANDARD_LIB_DIRS = ['/usr/local/cuda/lib64', '/usr/local/cuda/targets/x86_64-linux/lib', '/usr/lib/x86_64-linux-gnu', '/usr/lib64'];

export function findLibraries(
  names: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  ldconfigOutput?: string,
  standardDirs: readonly string[] = STANDARD_LIB_DIRS,
): Map<string, string | undefined> {
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...standardDirs];
  let cache = ldconfigOutput;
  if (cache === undefined) {
    try {
      cache = execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: { ...env, PATH: `${env.PATH ?? ''}:/sbin:/usr/sbin` } });
    } catch {
      cache = '';
    }
  }
  const found = new Map<string, string | undefined>();
  for (const name of names) {
    const inCache = new RegExp(`^\\s*${name.replace(/\./g, '\\.')} .*=> (.+)$`, 'm').exec(cache)?.[1];
    const inDir = dirs.map((d) => path.join(d, name)).find((p) => fs.existsSync(p));
    found.set(name, inDir ?? inCache);
  }
  return found;
}

export function checkCuda(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  ldconfigOutput?: string,
  standardDirs: readonly string[] = STANDARD_LIB_DIRS,
): CheckResult[] {
  if (platform !== 'linux') {
    const native = platform === 'win32' ? 'DirectML' : platform === 'darwin' ? 'CoreML' : 'CPU';
    return [ok('cuda', `not used on ${platform} (${native} is this platform's GPU path)`)];
  }
  const libs = findLibraries(['libcuda.so.1', ...CUDA_LIBRARIES], env, ldconfigOutput, standardDirs);
  if (!libs.get('libcuda.so.1')) {
    return [warn('cuda', 'no NVIDIA driver (libcuda.so.1) found; generation will run on the CPU', 'on a machine with an NVIDIA GPU, install the NVIDIA driver')];
  }
  const results: CheckResult[] = [ok('cuda driver', libs.get('libcuda.so.1')!)];
  const missing = CUDA_LIBRARIES.filter((n) => !libs.get(n));
  results.push(missing.length === 0
    ? ok('cuda libraries', 'CUDA 12 runtime, cuBLAS, cuFFT, cuRAND and cuDNN 9 found')
    : fail('cuda libraries', `missing ${missing.join(', ')}`,
      'install the CUDA 12 runtime and cuDNN 9 for CUDA 12 (https://developer.nvidia.com/cudnn-downloads), then run `sudo ldconfig` or add their lib folders to LD_LIBRARY_PATH'));
  let providerDir: string | undefined;
  try {
    providerDir = path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', 'linux', os.arch());
  } catch {
    providerDir = undefined;
  }
  const cudaProvider = providerDir && path.join(providerDir, 'libonnxruntime_providers_cuda.so');
  results.push(cudaProvider && fs.existsSync(cudaProvider)
    ? ok('onnxruntime cuda', cudaProvider)
    : warn('onnxruntime cuda', 'onnxruntime-node was installed without its CUDA provider', 'run `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node`'));
  return results;
}

export function checkMemory(totalBytes: number = os.totalmem(), freeBytes: number = os.freemem()): CheckResult {
  const detail = `${formatGB(freeBytes)} free of ${formatGB(totalBytes)}`;
  if (totalBytes < 8 * 1024 ** 3) return fail('memory', detail, 'SDXL needs at least 8 GB of RAM (16 GB recommended)');
  if (freeBytes < 6 * 1024 ** 3) return warn('memory', detail, 'close other programs before generating (SDXL needs about 6–8 GB while loading)');
  return ok('memory', detail);
}

/** GPU memory from nvidia-smi, when there is one. */
export function checkGpuMemory(): CheckResult | undefined {
  let text: string;
  try {
    text = execFileSync('nvidia-smi', ['--query-gpu=name,memory.free,memory.total', '--format=csv,noheader,nounits'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
  } catch {
    return undefined;
  }
  const [name, free, total] = (text.trim().split('\n')[0] ?? '').split(',').map((s) => s.trim());
  const freeMiB = Number(free);
  const detail = `${name}: ${free} MiB free of ${total} MiB`;
  return freeMiB >= 8 * 1024 ? ok('gpu memory', detail) : warn('gpu memory', detail, 'SDXL in fp16 wants about 8 GB of free GPU memory; close other GPU programs');
}

export function checkModels(cacheDir: string): CheckResult[] {
  const statuses = modelStatuses(cacheDir);
  const results = statuses.map((s) => (s.present
    ? ok(`model ${s.spec.id}`, s.snapshotDir ?? cacheDir)
    : warn(`model ${s.spec.id}`, `missing ${s.missingFiles.length} file(s), about ${formatGB(s.missingBytes)} (${s.spec.repo})`, 'run `stylestudio models pull`')));
  const paths = defaultSetPaths(statuses);
  if (paths === null) return results;
  // The set as the engine opens it: the fp16-fix VAE in place of the base snapshot's, every weight header read.
  try {
    checkWeightFiles(paths, { variant: 'fp16' });
    results.push(ok('model files', `every weight file of the default set reads (VAE: ${path.basename(path.dirname(paths.vae!))}…)`));
  } catch (e) {
    results.push(fail('model files', (e as Error).message, 'delete the file named and run `stylestudio models pull`'));
  }
  return results;
}

export function checkPort(port: number, host = '127.0.0.1'): Promise<CheckResult> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code === 'EADDRINUSE'
        ? warn('port', `${host}:${port} is in use (a companion may already be running)`, 'stop the other program or run `stylestudio serve --port N`')
        : fail('port', `${host}:${port}: ${err.message}`, 'pick another port with `stylestudio serve --port N`'));
    });
    server.listen(port, host, () => server.close(() => resolve(ok('port', `${host}:${port} is free`))));
  });
}

export function checkToken(file: string = tokenPath()): CheckResult {
  if (!fs.existsSync(file)) return warn('token', `${file} does not exist yet`, 'it is made on the first `stylestudio serve`');
  if (process.platform !== 'win32' && (fs.statSync(file).mode & 0o077) !== 0) {
    return warn('token', `${file} is readable by other users`, `run \`chmod 600 ${file}\` (serve also tightens it)`);
  }
  return ok('token', file);
}

export function formatResult(r: CheckResult): string {
  const tag = { ok: '[ ok ]', warn: '[warn]', fail: '[FAIL]' }[r.status];
  return `${tag} ${r.label.padEnd(24)} ${r.detail}${r.fix ? `\n       ${''.padEnd(24)} fix: ${r.fix}` : ''}`;
}
