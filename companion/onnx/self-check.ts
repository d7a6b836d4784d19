/**
 * Provider self-check: before the engine uses a provider × lowering, a built-in tiny random network (Conv,
 * GroupNorm+SiLU, LayerNorm, self- and cross-attention, GEGLU, nearest upsampling; inputs with |mean| ≫ std so
 * one-pass norm statistics show) runs on that provider and on the CPU (CPU lowering, fp32), and must agree within
 * a bound per precision. The result is cached per provider, lowering, driver and onnxruntime version in
 * `<cacheDir>/gpu-verified.json`, so the check runs once per machine setup.
 *
 *   verifyProvider(provider, lowering?, options?) → VerifyResult   (never throws for a failing provider)
 *   chooseVerified(provider, lowering?, options?) → { provider, lowering, result, message? }: the asked
 *     combination when verified, else the CPU with one message saying why.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Graph, type SerializedModel } from './graph';
import { type ExecutionProvider, type Lowering, loweringFor } from './lowering';
import { errorStats, floatTensor, lcgFloats, toFloat32 } from './numerics';
import { add, reshape, transpose } from './ops/basic';
import { attention, conv2d, geglu, groupNorm, layerNorm, linear, upsampleNearest } from './ops/nn';
import { listedProviders, ProviderUnavailableError } from './providers';
import { DISABLE_CPU_FALLBACK, Session, type TensorData } from './session';
import { WeightStore } from '../weights/weight-store';

export type SelfCheckCode = 'PROVIDER_UNAVAILABLE' | 'CPU_FALLBACK' | 'RUN_FAILED' | 'MISMATCH';

export interface VerifyResult {
  readonly provider: ExecutionProvider;
  readonly lowering: Lowering;
  readonly passed: boolean;
  /** Max |Δ| / max |cpu| of the output (Infinity when it did not run). */
  readonly maxRel: number;
  readonly bound: number;
  /** Nodes per ORT provider in the run, from ORT's profile (e.g. { WebGpuExecutionProvider: 80 }). */
  readonly nodesByProvider: Readonly<Record<string, number>>;
  /** Median milliseconds of one run of the check network on the provider (after a warm-up run). */
  readonly msPerStep: number;
  /** Driver / runtime fingerprint the result is cached under. */
  readonly driver: string;
  readonly ortVersion: string;
  /** ISO time the check ran. */
  readonly checkedAt: string;
  /** True when this result came from the cache. */
  readonly cached: boolean;
  readonly code?: SelfCheckCode;
  readonly reason?: string;
}

export interface VerifyOptions {
  /** Where gpu-verified.json lives (default: the companion's config dir); null = no cache. */
  readonly cacheDir?: string | null;
  /** Ignore a cached result and run the check again. */
  readonly force?: boolean;
  readonly deviceId?: number;
  /** Timed runs after the warm-up (default 3). */
  readonly runs?: number;
}

/** Pass bounds per precision: fp32 allows TF32-class GPU matmuls, fp16 a few fp16 ulps through ~10 layers. */
export const SELF_CHECK_BOUND: Readonly<Record<Lowering['precision'], number>> = { fp32: 1e-3, fp16: 3e-2 };

const ORT_VERSION: string = (() => {
  try {
    return (JSON.parse(fs.readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

/** The companion's config dir (same rule as server/token.ts; the onnx layer may not import server/). */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env['STYLESTUDIO_CONFIG_DIR'];
  if (override) return path.resolve(override);
  if (process.platform === 'win32') return path.join(env['APPDATA'] ?? path.join(os.homedir(), 'AppData', 'Roaming'), 'StyleStudio');
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Application Support', 'StyleStudio');
  return path.join(env['XDG_CONFIG_HOME'] || path.join(os.homedir(), '.config'), 'stylestudio');
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * What the result depends on besides our code: the GPU driver. cuda: the NVIDIA kernel driver version; webgpu on
 * Linux: the Vulkan ICD manifests present (Mesa/NVIDIA/AMD each install one, the library path names the version);
 * elsewhere the OS release (Windows/macOS update their GPU drivers with the OS).
 */
export function driverFingerprint(provider: ExecutionProvider): string {
  if (provider === 'cpu') return `${os.platform()}-${os.arch()}`;
  if (provider === 'cuda') {
    const v = readText('/proc/driver/nvidia/version').split('\n')[0]?.trim();
    return v ? v.replace(/\s+/g, ' ') : 'nvidia-driver-unknown';
  }
  if (provider === 'webgpu' && process.platform === 'linux') {
    const icds: string[] = [];
    for (const dir of ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d']) {
      let names: string[] = [];
      try {
        names = fs.readdirSync(dir).sort();
      } catch {
        continue;
      }
      for (const n of names) {
        const st = fs.statSync(path.join(dir, n), { throwIfNoEntry: false });
        icds.push(`${n}:${st ? Math.round(st.mtimeMs) : 0}`);
      }
    }
    return `vulkan-icd ${icds.join(',') || 'none'}`;
  }
  return `${os.platform()} ${os.release()}`;
}

function loweringKey(l: Lowering): string {
  return JSON.stringify({ ...l, contrib: l.contrib ? [...l.contrib].sort() : undefined });
}

// ── the check network ───────────────────────────────────────────────────────────────────────────────────

const C = 64;
const CTX = 12;
/** Random weights of the check network: [key, shape]; written once into a safetensors file in the temp dir. */
const WEIGHTS: readonly (readonly [string, readonly number[]])[] = [
  ['conv_in.weight', [C, 4, 3, 3]], ['conv_in.bias', [C]],
  ['norm.weight', [C]], ['norm.bias', [C]],
  ['ln1.weight', [C]], ['ln1.bias', [C]],
  ['attn1.to_q.weight', [C, C]], ['attn1.to_k.weight', [C, C]], ['attn1.to_v.weight', [C, C]],
  ['attn1.to_out.weight', [C, C]], ['attn1.to_out.bias', [C]],
  ['ln2.weight', [C]], ['ln2.bias', [C]],
  ['attn2.to_q.weight', [C, C]], ['attn2.to_k.weight', [C, CTX]], ['attn2.to_v.weight', [C, CTX]],
  ['attn2.to_out.weight', [C, C]], ['attn2.to_out.bias', [C]],
  ['ff.proj.weight', [8 * C, C]], ['ff.proj.bias', [8 * C]], ['ff.out.weight', [C, 4 * C]], ['ff.out.bias', [C]],
  ['conv_out.weight', [4, C, 3, 3]], ['conv_out.bias', [4]],
];

let weightFile: string | null = null;

/** Writes the check network's weights (deterministic, F32) once per process. */
function checkWeights(): string {
  if (weightFile && fs.existsSync(weightFile)) return weightFile;
  const header: Record<string, { dtype: string; shape: readonly number[]; data_offsets: [number, number] }> = {};
  const chunks: Buffer[] = [];
  let offset = 0;
  WEIGHTS.forEach(([key, shape], i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length > 1 ? n / shape[0]! : 1;
    const isNormScale = /(norm|ln\d)\.weight$/.test(key);
    // query/key weights 4× larger: peaked attention (scores of several units), where a wrong softmax shows
    const gain = /to_[qk]\.weight$/.test(key) ? 4 : 1;
    const values = isNormScale ? lcgFloats(n, 100 + i, 0.5, 1.5) : lcgFloats(n, 100 + i, -gain / Math.sqrt(fanIn), gain / Math.sqrt(fanIn));
    const buf = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
    header[key] = { dtype: 'F32', shape, data_offsets: [offset, offset + buf.length] };
    chunks.push(buf);
    offset += buf.length;
  });
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stylestudio-selfcheck-'));
  const file = path.join(dir, 'check.safetensors');
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(json, 'utf8'), ...chunks]));
  weightFile = file;
  return file;
}

/** The check network for `lowering`: x [2, 4, 8, 8], context [2, 7, CTX] → y [2, 4, 16, 16]. */
export function buildCheckNetwork(lowering: Lowering): SerializedModel {
  const w = WeightStore.open(checkWeights());
  const g = new Graph({ lowering, name: 'self_check' });
  const ft = g.computeType;
  const x = g.input('x', ft, [2, 4, 8, 8]);
  const ctx = g.input('context', ft, [2, 7, CTX]);
  let h = conv2d(w.child('conv_in'), x, { outChannels: C, kernel: 3, padding: 1 });
  h = groupNorm(w.child('norm'), h, { groups: 4, eps: 1e-5, silu: true });
  const tokens = reshape(transpose(h, [0, 2, 3, 1]), [2, 64, C]);
  // one head of 16 over 64 tokens, then two heads over the context: shapes where a wrong attention kernel shows
  const n1 = layerNorm(w.child('ln1'), tokens, 1e-5);
  const a1 = w.child('attn1');
  const sa = attention(linear(a1.child('to_q'), n1, C, { bias: false }), linear(a1.child('to_k'), n1, C, { bias: false }),
    linear(a1.child('to_v'), n1, C, { bias: false }), { heads: 1 });
  let t = add(linear(a1.child('to_out'), sa, C), tokens);
  const n2 = layerNorm(w.child('ln2'), t, 1e-5);
  const a2 = w.child('attn2');
  const ca = attention(linear(a2.child('to_q'), n2, C, { bias: false }), linear(a2.child('to_k'), ctx, C, { bias: false }),
    linear(a2.child('to_v'), ctx, C, { bias: false }), { heads: 2 });
  t = add(linear(a2.child('to_out'), ca, C), t);
  t = add(linear(w.child('ff').child('out'), geglu(w.child('ff').child('proj'), t, 4 * C), C), t);
  const img = transpose(reshape(t, [2, 8, 8, C]), [0, 3, 1, 2]);
  const y = conv2d(w.child('conv_out'), upsampleNearest(img, 2), { outChannels: 4, kernel: 3, padding: 1 });
  g.output('y', g.cast(y, 'float32'));
  return g.serialize();
}

/** Inputs with |mean| ≫ std (activations of real networks have them; one-pass variance fails there). */
function checkFeeds(dtype: 'float32' | 'float16'): Record<string, TensorData> {
  return {
    x: floatTensor(dtype, [2, 4, 8, 8], lcgFloats(2 * 4 * 64, 1, 4, 6)),
    context: floatTensor(dtype, [2, 7, CTX], lcgFloats(2 * 7 * CTX, 2, -2, 2)),
  };
}

/** Counts profiled node events per provider ("Node" category, one count per node name). */
export function nodesPerProvider(profileJson: string): Record<string, number> {
  const events = JSON.parse(profileJson) as { cat?: string; name?: string; args?: { provider?: string; op_name?: string } }[];
  const seen = new Map<string, string>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.args?.provider || !e.name) continue;
    seen.set(e.name.replace(/_(kernel_time|fence_before|fence_after)$/, ''), e.args.provider);
  }
  const counts: Record<string, number> = {};
  for (const p of seen.values()) counts[p] = (counts[p] ?? 0) + 1;
  return counts;
}

// ── cache ───────────────────────────────────────────────────────────────────────────────────────────────

const CACHE_FILE = 'gpu-verified.json';

function cacheKey(provider: ExecutionProvider, lowering: Lowering, driver: string): string {
  return `${provider}|${loweringKey(lowering)}|${driver}|ort ${ORT_VERSION}`;
}

function readCache(dir: string): Record<string, VerifyResult> {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, CACHE_FILE), 'utf8')) as Record<string, VerifyResult>;
  } catch {
    return {};
  }
}

function writeCache(dir: string, key: string, r: VerifyResult): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    const all = readCache(dir);
    all[key] = { ...r, cached: false };
    const tmp = path.join(dir, `${CACHE_FILE}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, JSON.stringify(all, null, 1));
    fs.renameSync(tmp, path.join(dir, CACHE_FILE));
  } catch {
    // a read-only config dir only costs a re-check next time
  }
}

// ── verify ──────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Runs (or recalls) the self-check of `provider` × `lowering` (default loweringFor(provider)). The provider must
 * run every node (CPU fallback disabled) and agree with the CPU within SELF_CHECK_BOUND[precision].
 */
export async function verifyProvider(provider: ExecutionProvider, lowering: Lowering = loweringFor(provider), options: VerifyOptions = {}): Promise<VerifyResult> {
  const driver = driverFingerprint(provider);
  const cacheDir = options.cacheDir === undefined ? defaultCacheDir() : options.cacheDir;
  const key = cacheKey(provider, lowering, driver);
  if (cacheDir !== null && options.force !== true) {
    const hit = readCache(cacheDir)[key];
    if (hit) return { ...hit, cached: true };
  }
  const bound = SELF_CHECK_BOUND[lowering.precision];
  const base = { provider, lowering, bound, driver, ortVersion: ORT_VERSION, checkedAt: new Date().toISOString(), cached: false };
  const fail = (code: SelfCheckCode, reason: string, extra: Partial<VerifyResult> = {}): VerifyResult =>
    ({ ...base, passed: false, maxRel: Infinity, nodesByProvider: {}, msPerStep: NaN, code, reason, ...extra });
  let result: VerifyResult;
  if (provider !== 'cpu' && !listedProviders().includes(provider)) {
    result = fail('PROVIDER_UNAVAILABLE', `onnxruntime-node on ${process.platform}/${process.arch} has no ${provider} provider`);
  } else {
    result = await runCheck(provider, lowering, options, base, fail);
  }
  // An unavailable provider is not cached: installing its libraries must not need a cache reset.
  if (cacheDir !== null && result.code !== 'PROVIDER_UNAVAILABLE') writeCache(cacheDir, key, result);
  return result;
}

/** Whether the check network's session can be created on `provider` when nodes may fall back to the CPU. */
async function createsWithCpuFallback(provider: ExecutionProvider, lowering: Lowering, deviceId: number | undefined): Promise<boolean> {
  try {
    const s = await Session.create(buildCheckNetwork(lowering), {
      provider, logLevel: 'fatal', ...(deviceId !== undefined ? { deviceId } : {}),
    });
    await s.release();
    return true;
  } catch {
    return false;
  }
}

async function runCheck(
  provider: ExecutionProvider,
  lowering: Lowering,
  options: VerifyOptions,
  base: Omit<VerifyResult, 'passed' | 'maxRel' | 'nodesByProvider' | 'msPerStep'>,
  fail: (code: SelfCheckCode, reason: string, extra?: Partial<VerifyResult>) => VerifyResult,
): Promise<VerifyResult> {
  const dtype = lowering.precision === 'fp16' ? 'float16' : 'float32';
  const feeds = checkFeeds(dtype);
  const feeds32: Record<string, TensorData> = {};
  for (const [k, t] of Object.entries(feeds)) feeds32[k] = floatTensor('float32', t.dims, toFloat32(t));
  const cpu = await Session.create(buildCheckNetwork(loweringFor('cpu')), { provider: 'cpu', logLevel: 'fatal' });
  let expected: Float32Array;
  try {
    expected = toFloat32((await cpu.run(feeds32))['y']!);
  } finally {
    await cpu.release();
  }
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stylestudio-profile-'));
  let session: Session;
  try {
    session = await Session.create(buildCheckNetwork(lowering), {
      provider, logLevel: 'fatal', profilePrefix: path.join(profileDir, 'check'),
      ...(options.deviceId !== undefined ? { deviceId: options.deviceId } : {}),
      ...(provider !== 'cpu' ? { configEntries: DISABLE_CPU_FALLBACK } : {}),
    });
  } catch (e) {
    fs.rmSync(profileDir, { recursive: true, force: true });
    const message = (e as Error).message;
    if (e instanceof ProviderUnavailableError) return fail('PROVIDER_UNAVAILABLE', message.split('\n')[0]!);
    // ORT's errors carry no codes: whether CPU fallback was the cause is decided by creating it again with fallback allowed.
    if (provider !== 'cpu' && (await createsWithCpuFallback(provider, lowering, options.deviceId))) {
      return fail('CPU_FALLBACK', `some nodes of the ${lowering.kind} ${lowering.precision} lowering have no ${provider} kernel (they would run on the CPU)`);
    }
    return fail('RUN_FAILED', message.split('\n')[0]!);
  }
  try {
    const first = toFloat32((await session.run(feeds))['y']!);
    const times: number[] = [];
    for (let i = 0; i < (options.runs ?? 3); i++) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    times.sort((a, b) => a - b);
    const msPerStep = times.length > 0 ? times[Math.floor(times.length / 2)]! : NaN;
    let nodesByProvider: Record<string, number> = {};
    try {
      nodesByProvider = nodesPerProvider(fs.readFileSync(await session.endProfiling(), 'utf8'));
    } catch {
      // the profile is a report, not the verdict
    }
    const { maxRel } = errorStats(first, expected);
    const passed = maxRel <= base.bound;
    return {
      ...base, passed, maxRel, nodesByProvider, msPerStep,
      ...(passed ? {} : { code: 'MISMATCH' as const, reason: `differs from the CPU by ${maxRel.toExponential(2)} (bound ${base.bound})` }),
    };
  } catch (e) {
    return fail('RUN_FAILED', (e as Error).message.split('\n')[0]!);
  } finally {
    await session.release();
    fs.rmSync(profileDir, { recursive: true, force: true });
  }
}

export interface VerifiedChoice {
  readonly provider: ExecutionProvider;
  readonly lowering: Lowering;
  /** The check of the asked combination (absent for the CPU, which is the reference and never checked). */
  readonly result?: VerifyResult;
  /** Set when falling back: one line saying what was asked, why it is not used, and what is used instead. */
  readonly message?: string;
}

/**
 * The combination the engine should use: `provider` × `lowering` when its self-check passes, else the CPU with its
 * own lowering and one message saying why.
 */
export async function chooseVerified(provider: ExecutionProvider, lowering: Lowering = loweringFor(provider), options: VerifyOptions = {}): Promise<VerifiedChoice> {
  if (provider === 'cpu') return { provider, lowering };
  const result = await verifyProvider(provider, lowering, options);
  if (result.passed) return { provider, lowering, result };
  return {
    provider: 'cpu', lowering: loweringFor('cpu'), result,
    message: `not using ${provider} (${lowering.kind} ${lowering.precision}): self-check failed [${result.code}] ${result.reason}; running on the CPU instead`,
  };
}

/**
 * True on Linux when no GPU device node exists (no /dev/dri/renderD*, no /dev/nvidia<N>): Vulkan can then only be
 * a CPU implementation (lavapipe, SwiftShader; Mesa installs every driver's ICD manifest, so manifests do not
 * tell). `STYLESTUDIO_DEV_DIR` replaces /dev (tests).
 */
export function softwareVulkanOnly(env: NodeJS.ProcessEnv = process.env): boolean {
  const dev = env['STYLESTUDIO_DEV_DIR'] ?? '/dev';
  const list = (dir: string) => {
    try {
      return fs.readdirSync(dir);
    } catch {
      return [];
    }
  };
  const render = list(path.join(dev, 'dri')).some((n) => n.startsWith('renderD'));
  const nvidia = list(dev).some((n) => /^nvidia\d+$/.test(n));
  return !render && !nvidia;
}

/**
 * The GPU providers 'auto' tries, in order, per platform (docs/GPU.md): the vendor providers first where they
 * exist (faster kernels), then WebGPU (every GPU, shipped in the package), then the CPU.
 * - linux: cuda (needs the opt-in CUDA install), webgpu (Vulkan; skipped when the only Vulkan devices are CPU
 *   implementations such as lavapipe: explicit `--provider webgpu` still uses them);
 * - win32: dml, webgpu (D3D12);
 * - darwin: webgpu (Metal). CoreML is not tried automatically: our graphs have not been verified on it.
 */
export function autoProviderOrder(platform: NodeJS.Platform = process.platform): ExecutionProvider[] {
  // A CPU-emulated Vulkan device (lavapipe, SwiftShader) runs WebGPU slower than the CPU provider: not for 'auto'.
  if (platform === 'linux') return softwareVulkanOnly() ? ['cuda'] : ['cuda', 'webgpu'];
  if (platform === 'win32') return ['dml', 'webgpu'];
  if (platform === 'darwin') return ['webgpu'];
  return [];
}

/**
 * What the engine should run on: for a named provider, chooseVerified(provider); for 'auto', the first provider of
 * autoProviderOrder() whose self-check passes, else the CPU. `message` says why a GPU provider was not used
 * (for 'auto': only when one was offered and failed its check).
 */
export async function chooseProvider(asked: ExecutionProvider | 'auto', precision?: Lowering['precision'], options: VerifyOptions = {}): Promise<VerifiedChoice> {
  if (asked !== 'auto') return chooseVerified(asked, loweringFor(asked, precision), options);
  const failures: string[] = [];
  const listed = listedProviders();
  for (const provider of autoProviderOrder()) {
    if (!listed.includes(provider)) continue;
    const lowering = loweringFor(provider, precision);
    const result = await verifyProvider(provider, lowering, options);
    if (result.passed) return { provider, lowering, result };
    if (result.code !== 'PROVIDER_UNAVAILABLE') failures.push(`${provider}: [${result.code}] ${result.reason}`);
  }
  const lowering = loweringFor('cpu');
  return failures.length > 0
    ? { provider: 'cpu', lowering, message: `no GPU provider passed its self-check (${failures.join('; ')}); running on the CPU` }
    : { provider: 'cpu', lowering };
}
