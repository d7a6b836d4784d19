/**
 * What `npm run gpu-check` adds for the tiny sets and for providers only Node can run:
 *  - exportTinyParity(outDir): copies the tiny fixtures the networks read into OUTDIR/fixtures, exports each tiny
 *    network in the CUDA lowering (fp32 and fp16) as an .onnx beside its weights, and writes the CPU reference
 *    outputs (OUTDIR/tiny.safetensors + OUTDIR/tiny.json) for tools/bench/gpu_check.py's CUDA parity table;
 *  - buildNodePack(outDir): OUTDIR/node-pack = this Node binary + the compiled companion and bench + the runtime
 *    modules they load (onnxruntime-node's linux-x64 binaries only), so gpu_check.py can run
 *    bench/gpu-check-node.ts (WebGPU availability, self-check, tiny parity) on a machine without Node; returns the
 *    xz-compressed size of everything that must travel.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loweringFor } from '../companion/onnx/lowering';
import { Session, type TensorData } from '../companion/onnx/session';
import { toFloat32 } from '../companion/onnx/numerics';
import { writeF32Safetensors } from './export-onnx';
import { TINY_FIXTURE_FILES, tinyNetworks } from './tiny-networks';

const REPO = path.resolve(__dirname, '..', '..');

export interface TinyManifestEntry {
  readonly network: string;
  readonly lowering: string;
  /** .onnx path relative to OUTDIR. */
  readonly file: string;
  readonly inputs: Record<string, string>;
  /** output name → reference key in tiny.safetensors. */
  readonly outputs: Record<string, string>;
}

function asF32(t: TensorData): { shape: number[]; data: Float32Array } {
  const data = t.dtype === 'int64' ? Float32Array.from(t.data as BigInt64Array, (v) => Number(v)) : toFloat32(t);
  return { shape: [...t.dims], data };
}

export async function exportTinyParity(outDir: string): Promise<TinyManifestEntry[]> {
  const fixtures = path.join(outDir, 'fixtures');
  for (const rel of TINY_FIXTURE_FILES) {
    fs.cpSync(path.join(REPO, 'test', 'fixtures', rel), path.join(fixtures, rel), { recursive: true });
  }
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  const entries: TinyManifestEntry[] = [];
  for (const net of tinyNetworks(fixtures)) {
    for (const [k, t] of Object.entries(net.feeds)) tensors[`${net.name}.in.${k}`] = asF32(t);
    for (const precision of ['fp32', 'fp16'] as const) {
      const fp16 = precision === 'fp16';
      const ref = await Session.create(net.build(loweringFor('cpu'), fp16), { provider: 'cpu', logLevel: 'fatal' });
      const outputs: Record<string, string> = {};
      try {
        for (const [k, t] of Object.entries(await ref.run(net.feeds))) {
          tensors[`${net.name}.${precision}.out.${k}`] = asF32(t);
          outputs[k] = `${net.name}.${precision}.out.${k}`;
        }
      } finally {
        await ref.release();
      }
      const model = net.build(loweringFor('cuda', precision), fp16);
      if (model.folder === null) throw new Error(`${net.name}: graph has no weights`);
      const file = path.join(model.folder, `tiny-${net.name}.cuda-${precision}.onnx`);
      fs.writeFileSync(file, model.bytes);
      const inputs: Record<string, string> = {};
      for (const k of Object.keys(net.feeds)) inputs[k] = `${net.name}.in.${k}`;
      entries.push({ network: net.name, lowering: `cuda-${precision}`, file: path.relative(outDir, file), inputs, outputs });
    }
  }
  writeF32Safetensors(path.join(outDir, 'tiny.safetensors'), tensors);
  fs.writeFileSync(path.join(outDir, 'tiny.json'), JSON.stringify({ format: 'stylestudio-tiny-parity/1', entries }, null, 1));
  return entries;
}

/** Runtime modules the compiled companion and bench load (sharp is not needed: no image decoding). */
const RUNTIME_MODULES = ['onnxruntime-node', 'onnxruntime-common', 'zod', 'commander', 'ws'];

export function buildNodePack(outDir: string): { dir: string; files: number; xzBytes: number } {
  const dir = path.join(outDir, 'node-pack');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  fs.copyFileSync(process.execPath, path.join(dir, 'bin', 'node'));
  fs.chmodSync(path.join(dir, 'bin', 'node'), 0o755);
  const app = path.join(dir, 'app');
  for (const sub of ['companion', 'bench', 'protocol']) fs.cpSync(path.join(REPO, 'dist', sub), path.join(app, 'dist', sub), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'package.json'), path.join(app, 'package.json'));
  for (const m of RUNTIME_MODULES) {
    fs.cpSync(path.join(REPO, 'node_modules', m), path.join(app, 'node_modules', m), {
      recursive: true,
      // onnxruntime-node: the linux x64 binaries only (the package carries every platform's)
      filter: (src) => {
        const rel = path.relative(path.join(REPO, 'node_modules', 'onnxruntime-node', 'bin'), src);
        if (rel.startsWith('..') || rel === '') return true;
        const parts = rel.split(path.sep);
        return parts.length < 2 || parts[1] === 'linux' && (parts.length < 3 || parts[2] === 'x64');
      },
    });
  }
  const tar = path.join(outDir, 'node-pack.tar.xz');
  execFileSync('tar', ['-cJf', tar, '-C', outDir, 'node-pack'], { stdio: 'inherit', env: { ...process.env, XZ_OPT: '-6 -T1' } });
  const files = execFileSync('tar', ['-tJf', tar]).toString().split('\n').filter((l) => l && !l.endsWith('/')).length;
  return { dir, files, xzBytes: fs.statSync(tar).size };
}
