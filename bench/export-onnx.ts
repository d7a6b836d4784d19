/**
 * Writes our UNet graphs as standalone .onnx files for tools/bench/gpu_check.py (a machine with a GPU may have
 * Python but no Node.js): one file per lowering, external data pointing at the weight files beside them.
 *
 *   node dist/bench/export-onnx.js OUTDIR [--from UNET_DIR] [--batch 2] [--latent 64]
 *
 * OUTDIR/unet must hold config.json, diffusion_pytorch_model.safetensors and diffusion_pytorch_model.fp16.safetensors
 * (--from copies them there first). Writes, and replaces:
 *   OUTDIR/unet/unet.<lowering>.onnx   portable-fp32 (fp32 file), portable-fp16 and fused-fp16 (fp16 file, as stored)
 *   OUTDIR/inputs.safetensors          in.* feeds (F32; gpu_check.py casts to fp16 where the graph wants it)
 *   OUTDIR/manifest.json               lowerings, feeds, and each weight file's size, sha256 and tensor list, so
 *                                      the weights can be re-made byte for byte where they did not travel
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Lowering } from '../companion/onnx/lowering';
import { readSafetensors } from '../companion/weights/safetensors';
import { buildUNetGraph, pooledDim, readUNetConfig, WEIGHT_FILE } from './unet-step';

export const LOWERINGS: readonly { name: string; lowering: Lowering; weights: keyof typeof WEIGHT_FILE }[] = [
  { name: 'portable-fp32', lowering: { kind: 'portable', precision: 'fp32' }, weights: 'fp32' },
  { name: 'portable-fp16', lowering: { kind: 'portable', precision: 'fp16' }, weights: 'fp16' },
  { name: 'fused-fp16', lowering: { kind: 'fused', precision: 'fp16' }, weights: 'fp16' },
];

export interface ExportOptions {
  readonly batch: number;
  readonly latent: number;
  /** Seed the weights were written with (tools/bench/random_weights.py --init hash), recorded for re-making. */
  readonly weightSeed?: number;
}

export interface ExportManifest {
  readonly format: 'stylestudio-gpu-check/1';
  readonly batch: number;
  readonly latent: number;
  readonly inputs: string;
  readonly lowerings: { name: string; file: string; kind: string; precision: string; weights: string; nodes: number }[];
  readonly weights: Record<string, { precision: string; bytes: number; sha256: string }>;
  /** How the weight files were made; `hash` files can be re-made from `tensors` by random_weights.py. */
  readonly weightInit: { kind: 'hash'; seed: number } | { kind: 'unknown' };
  readonly tensors: [string, number[]][];
}

function sha256(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 24);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** A minimal safetensors writer for small F32 tensors (the feeds). */
export function writeF32Safetensors(file: string, tensors: Record<string, { shape: number[]; data: Float32Array }>): void {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [key, t] of Object.entries(tensors)) {
    header[key] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const parts = [len, Buffer.from(json, 'utf8'), ...Object.values(tensors).map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))];
  const tmp = `${file}.partial`;
  fs.writeFileSync(tmp, Buffer.concat(parts));
  fs.renameSync(tmp, file);
}

/** Deterministic normal-ish values (sum of uniforms, LCG) for inputs; no reference needs to reproduce them. */
function pseudoNormal(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (let i = 0; i < n; i++) out[i] = (u() + u() + u() + u() - 2) * Math.sqrt(3);
  return out;
}

export function exportOnnx(outDir: string, o: ExportOptions): ExportManifest {
  const unetDir = path.join(outDir, 'unet');
  const config = readUNetConfig(unetDir);
  for (const f of Object.values(WEIGHT_FILE)) {
    if (!fs.existsSync(path.join(unetDir, f))) throw new Error(`${path.join(unetDir, f)}: missing (export needs both the fp32 and the fp16 weight file)`);
  }
  const realUnet = fs.realpathSync(unetDir);
  const shape = { batch: o.batch, height: o.latent, width: o.latent, teacherShare: false };
  const lowerings: ExportManifest['lowerings'] = [];
  for (const l of LOWERINGS) {
    const { graph } = buildUNetGraph(unetDir, WEIGHT_FILE[l.weights], l.lowering, shape);
    const model = graph.serialize();
    if (model.folder !== realUnet) {
      throw new Error(`graph ${l.name}: its external data resolves against ${model.folder}, not ${realUnet}; weight files must sit in OUTDIR/unet itself`);
    }
    const file = `unet.${l.name}.onnx`;
    const tmp = path.join(unetDir, `${file}.partial`);
    fs.writeFileSync(tmp, model.bytes);
    fs.renameSync(tmp, path.join(unetDir, file));
    lowerings.push({ name: l.name, file: `unet/${file}`, kind: l.lowering.kind, precision: l.lowering.precision, weights: `unet/${WEIGHT_FILE[l.weights]}`, nodes: graph.nodeCount });
  }

  const B = o.batch;
  const px = o.latent * 8;
  const inputs: Record<string, { shape: number[]; data: Float32Array }> = {
    'in.sample': { shape: [B, config.in_channels, o.latent, o.latent], data: pseudoNormal(B * config.in_channels * o.latent * o.latent, 11) },
    'in.timestep': { shape: [B], data: new Float32Array(B).fill(500) },
    'in.encoder_hidden_states': { shape: [B, 77, config.cross_attention_dim], data: pseudoNormal(B * 77 * config.cross_attention_dim, 12) },
  };
  const pooled = pooledDim(config);
  if (pooled !== undefined) {
    inputs['in.text_embeds'] = { shape: [B, pooled], data: pseudoNormal(B * pooled, 13) };
    inputs['in.time_ids'] = { shape: [B, 6], data: Float32Array.from({ length: B * 6 }, (_, i) => [px, px, 0, 0, px, px][i % 6]!) };
  }
  writeF32Safetensors(path.join(outDir, 'inputs.safetensors'), inputs);

  const weights: ExportManifest['weights'] = {};
  for (const [precision, f] of Object.entries(WEIGHT_FILE)) {
    const file = path.join(unetDir, f);
    weights[`unet/${f}`] = { precision, bytes: fs.statSync(file).size, sha256: sha256(file) };
  }
  const tensors = [...readSafetensors(path.join(unetDir, WEIGHT_FILE.fp32)).tensors.values()]
    .map((t): [string, number[]] => [t.key, [...t.shape]])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const manifest: ExportManifest = {
    format: 'stylestudio-gpu-check/1', batch: B, latent: o.latent, inputs: 'inputs.safetensors', lowerings, weights,
    weightInit: o.weightSeed !== undefined ? { kind: 'hash', seed: o.weightSeed } : { kind: 'unknown' }, tensors,
  };
  fs.writeFileSync(path.join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  return manifest;
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
  args.splice(i, 2);
  return v;
}

function positiveInt(name: string, v: string | undefined, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

function main(): void {
  const args = process.argv.slice(2);
  const from = argValue(args, '--from');
  const batch = positiveInt('--batch', argValue(args, '--batch'), 2);
  const latent = positiveInt('--latent', argValue(args, '--latent'), 64);
  const seed = argValue(args, '--weight-seed');
  const outDir = args[0];
  if (!outDir || args.length !== 1) {
    throw new Error('usage: node dist/bench/export-onnx.js OUTDIR [--from UNET_DIR] [--batch N] [--latent N] [--weight-seed N]');
  }
  const unetDir = path.join(outDir, 'unet');
  if (!from && !fs.existsSync(path.join(unetDir, 'config.json'))) {
    throw new Error(`${path.join(unetDir, 'config.json')}: missing; put the UNet folder there or pass --from UNET_DIR`);
  }
  fs.mkdirSync(unetDir, { recursive: true });
  if (from) {
    for (const f of ['config.json', ...Object.values(WEIGHT_FILE)]) fs.copyFileSync(path.join(from, f), path.join(unetDir, f));
  }
  const m = exportOnnx(outDir, { batch, latent, ...(seed !== undefined ? { weightSeed: positiveInt('--weight-seed', seed, 0, 0) } : {}) });
  for (const l of m.lowerings) console.log(`${path.join(outDir, l.file)}  (${l.nodes} nodes, weights ${l.weights})`);
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.error(`export-onnx: ${(e as Error).message}`);
    process.exit(1);
  }
}
