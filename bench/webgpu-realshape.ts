/**
 * `node dist/bench/webgpu-realshape.js [--latent N]`: fp16 and fp32 fidelity of the WebGPU lowering on real-shape
 * layers with random weights (tiny random models exaggerate fp16 error): SDXL's down_blocks.1 (640 channels,
 * 10 heads × 64, 2 transformer layers, cross-attention to 77 × 2048 tokens) and the SDXL fp16-fix VAE decoder,
 * both from the real configs in tools/realshape/configs, at a small spatial size (default latent 16 → 256 tokens /
 * a 128² image). Reference: the CPU provider, CPU lowering, fp32, on the same fp16-rounded weights. Prints a table;
 * asserts nothing. Needs the WebGPU provider (see docs/GPU.md).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Graph, type SerializedModel } from '../companion/onnx/graph';
import { type Lowering, loweringFor } from '../companion/onnx/lowering';
import { errorStats, floatTensor, lcgFloats, toFloat32 } from '../companion/onnx/numerics';
import { DISABLE_CPU_FALLBACK, Session, type TensorData } from '../companion/onnx/session';
import { ADAIN_VARIANCE_FLOOR } from '../companion/models/unet/attention';
import { planAttention } from '../companion/models/unet/attention-plan';
import { downBlock } from '../companion/models/unet/blocks';
import { parseUNetConfig, unetDims } from '../companion/models/unet/config';
import { buildVaeDecoder, parseVaeConfig } from '../companion/models/vae';
import { float32ToFloat16Bits } from '../companion/rng/float16';
import type { TensorRef, WeightScope } from '../companion/weights/tensor';

const REPO = path.resolve(__dirname, '..', '..');
const CONFIGS = path.join(REPO, 'tools', 'realshape', 'configs');

/** A WeightScope that hands out F16 tensors laid out one after another in `file`, written by write(). */
class RandomWeights implements WeightScope {
  private readonly refs: TensorRef[];
  constructor(private readonly file: string, readonly path = '', refs?: TensorRef[]) {
    this.refs = refs ?? [];
  }

  child(name: string | number): WeightScope {
    return new RandomWeights(this.file, this.path === '' ? String(name) : `${this.path}.${name}`, this.refs);
  }

  tensor(name: string, shape: readonly number[]): TensorRef {
    const key = this.path === '' ? name : `${this.path}.${name}`;
    const last = this.refs[this.refs.length - 1];
    const offset = last ? last.offset + last.length : 0;
    const n = shape.reduce((a, b) => a * b, 1);
    const ref: TensorRef = { key, file: this.file, dtype: 'F16', shape, offset, length: 2 * n };
    this.refs.push(ref);
    return ref;
  }

  has(): boolean {
    return false;
  }

  /** Writes every tensor asked for: norm scales ~1, biases small, other weights uniform ±1/sqrt(fan-in). */
  write(): number {
    const fd = fs.openSync(this.file, 'w');
    try {
      this.refs.forEach((r, i) => {
        const n = r.length / 2;
        const fanIn = r.shape.length > 1 ? n / r.shape[0]! : 1;
        const isScale = /norm[^.]*\.weight$/.test(r.key);
        const isBias = r.key.endsWith('.bias');
        const v = isScale ? lcgFloats(n, i + 1, 0.8, 1.2) : isBias ? lcgFloats(n, i + 1, -0.05, 0.05) : lcgFloats(n, i + 1, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn));
        const bits = new Uint16Array(n);
        for (let j = 0; j < n; j++) bits[j] = float32ToFloat16Bits(v[j]!);
        fs.writeSync(fd, bits, 0, bits.byteLength, r.offset);
      });
    } finally {
      fs.closeSync(fd);
    }
    const last = this.refs[this.refs.length - 1];
    return last ? last.offset + last.length : 0;
  }
}

interface Case {
  readonly name: string;
  build(l: Lowering, w: RandomWeights): Graph;
  readonly feeds: Record<string, TensorData>;
  readonly computeInputs: readonly string[];
}

function unetBlock(latent: number): Case {
  const c = parseUNetConfig(JSON.parse(fs.readFileSync(path.join(CONFIGS, 'stabilityai--stable-diffusion-xl-base-1.0', 'unet', 'config.json'), 'utf8')));
  const dims = unetDims(c);
  const i = 1;
  const inCh = c.block_out_channels[0]!;
  const B = 2;
  return {
    name: `UNet down_blocks.1 (${c.block_out_channels[i]} ch, ${dims.heads[i]} heads, ${dims.transformerLayers[i]} layers, ${latent}²)`,
    build: (lowering, w) => {
      const g = new Graph({ lowering, name: 'unet_block' });
      const ft = g.computeType;
      const x = g.input('x', ft, [B, inCh, latent, latent]);
      const temb = g.input('temb', ft, [B, dims.timeEmbedDim]);
      const ehs = g.input('ehs', ft, [B, 77, c.cross_attention_dim]);
      const plan = planAttention(c, { style: { preset: 'none' }, styleTokens: 0, teacherShare: false });
      const r = downBlock(w.child('down_blocks').child(i), x, {
        outChannels: c.block_out_channels[i]!, layers: c.layers_per_block, groups: c.norm_num_groups, eps: c.norm_eps, downsample: true,
        attention: { heads: dims.heads[i]!, layers: dims.transformerLayers[i]!, groups: c.norm_num_groups, useLinearProjection: c.use_linear_projection },
      }, { temb, ehs, plan, attn: { heads: 0, unetRoot: '', textTokens: 77, adainVarianceFloor: ADAIN_VARIANCE_FLOOR } });
      g.output('out', g.cast(r.out, 'float32'));
      return g;
    },
    // activations with a mean offset, as real UNet features have; text states of CLIP's scale
    feeds: {
      x: { dtype: 'float32', dims: [B, inCh, latent, latent], data: lcgFloats(B * inCh * latent * latent, 11, -1.5, 2.5) },
      temb: { dtype: 'float32', dims: [B, dims.timeEmbedDim], data: lcgFloats(B * dims.timeEmbedDim, 12, -2, 2) },
      ehs: { dtype: 'float32', dims: [B, 77, c.cross_attention_dim], data: lcgFloats(B * 77 * c.cross_attention_dim, 13, -3, 3) },
    },
    computeInputs: ['x', 'temb', 'ehs'],
  };
}

function vaeDecoder(latent: number): Case {
  const c = parseVaeConfig(JSON.parse(fs.readFileSync(path.join(CONFIGS, 'madebyollin--sdxl-vae-fp16-fix', 'config.json'), 'utf8')));
  return {
    name: `VAE decoder (sdxl-vae-fp16-fix, ${latent}² → ${8 * latent}²)`,
    build: (lowering, w) => {
      const g = new Graph({ lowering, name: 'vae_decoder' });
      buildVaeDecoder(g, w, c, { batch: 1, height: latent, width: latent });
      return g;
    },
    feeds: { latents: { dtype: 'float32', dims: [1, 4, latent, latent], data: lcgFloats(4 * latent * latent, 21, -4, 4) } },
    computeInputs: ['latents'],
  };
}

async function runOn(model: SerializedModel, provider: 'cpu' | 'webgpu', feeds: Record<string, TensorData>): Promise<{ out: Float32Array; ms: number }> {
  const s = await Session.create(model, { provider, logLevel: 'fatal', ...(provider === 'webgpu' ? { configEntries: DISABLE_CPU_FALLBACK } : {}) });
  try {
    await s.run(feeds);
    const t0 = Date.now();
    const out = await s.run(feeds);
    return { out: toFloat32(Object.values(out)[0]!), ms: Date.now() - t0 };
  } finally {
    await s.release();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const li = args.indexOf('--latent');
  const latent = li >= 0 ? Number(args[li + 1]) : 16;
  if (!Number.isInteger(latent) || latent < 2 || latent % 2 !== 0) throw new Error('--latent must be an even integer ≥ 2');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'realshape-'));
  const rows: string[] = [];
  try {
    for (const make of [unetBlock, vaeDecoder]) {
      const kase = make(latent);
      const file = path.join(dir, 'weights.bin');
      const wRef = new RandomWeights(file);
      const reference = kase.build(loweringFor('cpu'), wRef);
      const bytes = wRef.write();
      const ref = await runOn(reference.serialize(), 'cpu', kase.feeds);
      for (const precision of ['fp32', 'fp16'] as const) {
        const w = new RandomWeights(file);
        const model = kase.build(loweringFor('webgpu', precision), w).serialize();
        const feeds: Record<string, TensorData> = { ...kase.feeds };
        if (precision === 'fp16') for (const n of kase.computeInputs) feeds[n] = floatTensor('float16', kase.feeds[n]!.dims, kase.feeds[n]!.data as Float32Array);
        const got = await runOn(model, 'webgpu', feeds);
        const e = errorStats(got.out, ref.out);
        rows.push(`| ${kase.name} | ${precision} | ${e.maxRel.toExponential(2)} | ${e.relL2.toExponential(2)} | ${(bytes / 2 ** 20).toFixed(0)} MiB |`);
        console.log(rows[rows.length - 1]);
      }
      fs.rmSync(file, { force: true });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\n| layer (random weights, real config) | WebGPU precision | max rel vs CPU fp32 | rel L2 | fp16 weights |\n|---|---|---|---|---|\n${rows.join('\n')}`);
}

main().catch((e: unknown) => {
  console.error(`webgpu-realshape: ${(e as Error).message}`);
  process.exit(1);
});
