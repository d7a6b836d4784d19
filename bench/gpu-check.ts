/**
 * `npm run gpu-check [-- OUTDIR] [--config mid|sdxl] [--latent N] [--batch N] [--node-pack]`: prepares the GPU
 * check for a Linux NVIDIA machine and prints the commands that run it: one UNet step of every lowering (SDXL 1024²:
 * `--config sdxl --latent 128`), the tiny sets' networks in the CUDA lowering against CPU references
 * (gpu-check-pack.ts), and with --node-pack a Node runtime so WebGPU can be checked there too (gpu-check-node.ts).
 *
 * The GPU machines this project borrows have Python (torch, onnxruntime) but no Node.js, so the check itself is
 * tools/bench/gpu_check.py. This script writes random weights with tools/bench/random_weights.py (`hash` init:
 * re-makeable byte for byte from the manifest, so only the small files need to travel), exports our graphs per
 * lowering (export-onnx.ts) and prints the local and the device command.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { exportOnnx } from './export-onnx';
import { buildNodePack, exportTinyParity } from './gpu-check-pack';
import { findPython, runPythonScript } from './python';

const REPO = path.resolve(__dirname, '..', '..');
const CONFIGS: Record<string, string> = {
  mid: path.join(REPO, 'bench', 'configs', 'unet-mid.json'),
  sdxl: path.join(REPO, 'bench', 'configs', 'unet-sdxl-base.json'),
};
const WEIGHT_SEED = 0;

function option(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
  args.splice(i, 2);
  return v;
}

function positive(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const nodePackAt = args.indexOf('--node-pack');
  const nodePack = nodePackAt >= 0;
  if (nodePack) args.splice(nodePackAt, 1);
  const configName = option(args, '--config', 'mid');
  const config = CONFIGS[configName];
  if (!config) throw new Error(`--config must be one of ${Object.keys(CONFIGS).join(', ')}, got ${JSON.stringify(configName)}`);
  const latent = positive('--latent', option(args, '--latent', '64'));
  const batch = positive('--batch', option(args, '--batch', '2'));
  if (args.length > 1 || args.some((a) => a.startsWith('--'))) throw new Error(`unexpected arguments: ${args.join(' ')}`);
  const outDir = path.resolve(args[0] ?? path.join(REPO, '.gpu-check'));

  const py = findPython();
  if ('missing' in py) throw new Error(`the weight files are written by tools/bench/random_weights.py: ${py.missing}`);
  const unetDir = path.join(outDir, 'unet');
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(unetDir, { recursive: true });
  console.log(`writing random ${configName} UNet weights (fp32 + fp16) into ${unetDir} …`);
  runPythonScript(py.exe, 'random_weights.py', [config, unetDir, '--init', 'hash', '--seed', String(WEIGHT_SEED), '--dtypes', 'fp32,fp16']);
  console.log('exporting our graphs per lowering …');
  const m = exportOnnx(outDir, { batch, latent, weightSeed: WEIGHT_SEED });
  for (const l of m.lowerings) console.log(`  ${l.file}: ${l.kind} ${l.precision}, ${l.nodes} nodes`);
  console.log('exporting the tiny sets\' networks (CUDA lowering, fp32 + fp16) with CPU references …');
  const tiny = await exportTinyParity(outDir);
  console.log(`  ${tiny.length} graphs, fixtures copied into ${path.join(outDir, 'fixtures')}`);
  let pack = '';
  if (nodePack) {
    console.log('assembling the Node pack (node binary, compiled companion, runtime modules) …');
    const p = buildNodePack(outDir);
    pack = ` node-pack.tar.xz (${(p.xzBytes / 2 ** 20).toFixed(1)} MiB, ${p.files} files; unpack it there with \`tar -xJf node-pack.tar.xz\`)`;
    console.log(`  ${p.dir}: ${(p.xzBytes / 2 ** 20).toFixed(1)} MiB xz`);
  }

  const rel = path.relative(REPO, outDir);
  const inRepo = !rel.startsWith('..') && !path.isAbsolute(rel);
  const small = ['manifest.json', 'inputs.safetensors', 'unet/config.json', ...m.lowerings.map((l) => l.file), 'tiny.json', 'tiny.safetensors', 'fixtures'];
  console.log(`
Run here (CPU, onnxruntime for Python):
  ${py.exe} tools/bench/gpu_check.py ${inRepo ? rel : outDir}

Run on a GPU machine (Python, no Node.js needed). The weights (${(Object.values(m.weights).reduce((a, w) => a + w.bytes, 0) / 2 ** 20).toFixed(0)} MiB) need not travel:
gpu_check.py re-makes them from manifest.json (sha256-checked). Carry only these paths of ${inRepo ? rel : outDir}:
  ${small.map((f) => path.join(inRepo ? rel : outDir, f)).join(' ')}${pack}
and run, from the repository root:
  PYTHONUNBUFFERED=1 python3 tools/bench/gpu_check.py ${inRepo ? rel : outDir}
(The PyTorch rows need diffusers; where it is missing, carry its wheel — see docs/BENCHMARKS.md.)`);
}

main().catch((e: unknown) => {
  console.error(`gpu-check: ${(e as Error).message}`);
  process.exit(1);
});
