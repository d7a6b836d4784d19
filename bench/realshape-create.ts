/**
 * What UNet session creation costs on the real-shape set, and where it goes: the graph build (our TypeScript, in a
 * worker), then onnxruntime's session creation with its graph optimisations at each level. With optimisation
 * 'disabled' the fp16 → fp32 weight casts stay nodes (nothing folded), so that row is loading alone; 'basic' adds
 * constant folding (the casts become fp32 initializers: the weight conversion); 'all' adds the layout and fusion
 * passes. Prepacking is off as the engine creates it. Each row in a fresh worker; one line per level.
 *
 *   node dist/bench/realshape-create.js --models HUB [--width 64 --height 32] [--rows 4] [--levels disabled,basic,extended,all]
 */
import * as fs from 'node:fs';
import { defaultSetPaths } from '../companion/runtime/model-paths';
import { Session } from '../companion/onnx/session';
import { loweringFor } from '../companion/onnx/lowering';
import { buildGraph } from '../companion/runtime/graph-build';
import { openDiffusersFolder } from '../companion/weights/diffusers';
import { modelStatuses } from '../companion/weights/model-catalog';
import { formatTable, gib, seconds } from './table';

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`${name} is required`);
  return v;
}

function rss(): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function main(): Promise<void> {
  const paths = defaultSetPaths(modelStatuses(arg('--models')));
  if (paths === null) throw new Error('the default set is not complete in --models');
  const h = Number(arg('--height', '32')) / 8;
  const w = Number(arg('--width', '64')) / 8;
  const unet = openDiffusersFolder(paths.model).component('unet');
  const t0 = performance.now();
  const model = buildGraph({
    kind: 'unet', lowering: loweringFor('cpu'), configFile: unet.configFile, weights: unet.weights({ variant: 'fp16' }).file,
    adapterFile: paths.adapter!, style: { preset: 'csgo' }, teacherShare: true, rows: 'rows', latentHeight: h, latentWidth: w, pooledDim: 1280,
  });
  const buildMs = performance.now() - t0;
  const rows: (string | number)[][] = [['graph build (TypeScript)', seconds(buildMs / 1000), '–', '–']];
  const B = Number(arg('--rows', '4'));
  const f32 = (dims: number[], fill = (i: number) => Math.sin(i * 0.37) * 0.5) => {
    const n = dims.reduce((a, b) => a * b, 1);
    return { dtype: 'float32' as const, dims, data: Float32Array.from({ length: n }, (_, i) => fill(i)) };
  };
  const feeds = {
    sample: f32([B, 4, h, w]), timestep: f32([B], () => 500), encoder_hidden_states: f32([B, 77 + 32, 2048]),
    text_embeds: f32([B, 1280]), time_ids: f32([B, 6], () => 512), ip_scale: f32([1], () => 1), adain_strength: f32([1], () => 1),
    teacher_mask: f32([B], (i) => (i % 2 === 0 ? 1 : 0)), teacher_index: { dtype: 'int64' as const, dims: [B], data: BigInt64Array.from({ length: B }, (_, i) => BigInt(i - (i % 2))) },
  };
  const levels = arg('--levels', 'disabled,basic,all').split(',') as ('disabled' | 'basic' | 'extended' | 'all')[];
  for (const optimization of levels) {
    const before = rss();
    const t1 = performance.now();
    const s = await Session.create(model, { optimization, logLevel: 'fatal', cpuMemArena: false, configEntries: { 'session.disable_prepacking': '1' } });
    const ms = performance.now() - t1;
    const added = rss() - before;
    await s.run(feeds); // warm-up
    const t2 = performance.now();
    await s.run(feeds);
    rows.push([`session create, optimisation ${optimization}`, seconds(ms / 1000), gib(added), seconds((performance.now() - t2) / 1000)]);
    await s.release();
  }
  process.stdout.write(`SDXL UNet + CSGO style layers, ${w * 8}×${h * 8}, CPU fp32 from the fp16 file, prepacking off\n`);
  process.stdout.write(`${formatTable(['stage', 'seconds', 'RSS added GiB', `one step, ${B} rows, s`], rows)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`realshape-create: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
