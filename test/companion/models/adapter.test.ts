/** Adapter checkpoints as users have them (.safetensors and torch .bin; h94 and CSGO layouts), and their failures. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Graph } from '../../../companion/onnx/graph';
import { PORTABLE_FP32 } from '../../../companion/onnx/lowering';
import { Session } from '../../../companion/onnx/session';
import { WeightStore } from '../../../companion/weights/weight-store';
import { readSafetensors } from '../../../companion/weights/safetensors';
import { parseUNetConfig } from '../../../companion/models/unet/config';
import { planAttention, type StyleLayerSelection } from '../../../companion/models/unet/attention-plan';
import { buildUNet } from '../../../companion/models/unet/unet';
import { openStyleAdapter, AdapterError } from '../../../companion/models/adapter';
import { buildImageProjection } from '../../../companion/models/image-proj';
import { buildGraph } from '../../../companion/runtime/graph-build';
import { openDiffusersFolder } from '../../../companion/weights/diffusers';
import { runGraph } from '../../helpers/onnx-run';
import { fixture } from '../../helpers/paths';
import { Golden, floats, relError } from './golden';

const TOL = 1e-4;
const config = parseUNetConfig(JSON.parse(fs.readFileSync(fixture('sdxl-tiny', 'unet', 'config.json'), 'utf8')));
const models = (...p: string[]) => fixture('ip-adapter-tiny', 'sdxl_models', ...p);
const csgoFile = fixture('ip-adapter-tiny', 'csgo', 'csgo_tiny.bin');

function build(adapterFile: string, style: StyleLayerSelection, batch: number) {
  const store = WeightStore.open(fixture('sdxl-tiny', 'unet', 'diffusion_pytorch_model.safetensors'));
  const adapter = openStyleAdapter(adapterFile, config.cross_attention_dim);
  const plan = planAttention(config, { style, styleTokens: adapter.tokens, teacherShare: false });
  const g = new Graph({ lowering: PORTABLE_FP32, name: 'unet' });
  buildUNet(g, store, config, plan, {
    batch, height: 8, width: 8, textTokens: 77, pooledDim: 48, adainVarianceFloor: 0,
    styleWeights: adapter.styleWeights(plan, config.cross_attention_dim),
    ...(adapter.convIn ? { convIn: adapter.convIn } : {}),
  });
  store.assertAllRead(adapter.convIn ? [/^conv_in\./] : []);
  adapter.store.assertAllRead([...adapter.ignoredKeys(plan), /^(style_)?image_proj\./, /^conv_in_unet_sd\./]);
  return { g, adapter, plan };
}

describe('h94 ip-adapter_sdxl.bin (torch.save zip + pickle) = the .safetensors', () => {
  test('same kind, tokens and tensors; UNet with scale 0.7 on the InstantStyle block matches diffusers', async () => {
    const bin = openStyleAdapter(models('ip-adapter_sdxl.bin'), 96);
    const st = openStyleAdapter(models('ip-adapter_sdxl.safetensors'), 96);
    expect(bin.kind).toBe('ip-adapter');
    expect(bin.store.keys().sort()).toEqual(st.store.keys().sort());
    const { g } = build(models('ip-adapter_sdxl.bin'), { preset: 'instantstyle' }, 2);
    const unet = new Golden('unet');
    const layers = new Golden('unet.ip_layers');
    const t = unet.get('in.timestep').data[0]!;
    const text = unet.get('in.encoder_hidden_states').data;
    const tokens = layers.get('in.ip_tokens').data;
    const ehs = new Float32Array(2 * 81 * 96);
    for (let r = 0; r < 2; r++) {
      ehs.set(text.subarray(r * 77 * 96, (r + 1) * 77 * 96), r * 81 * 96);
      ehs.set(tokens.subarray(r * 4 * 96, (r + 1) * 4 * 96), r * 81 * 96 + 77 * 96);
    }
    const out = await runGraph(g, {
      sample: unet.feed('in.sample'), timestep: floats([2], [t, t]), encoder_hidden_states: floats([2, 81, 96], ehs),
      text_embeds: unet.feed('in.text_embeds'), time_ids: unet.feed('in.time_ids'),
      ip_scale: floats([1], [0.7]), adain_strength: floats([1], [0]), teacher_mask: floats([2], [0, 0]),
    });
    const e = relError(out.noise_pred!.data as Float32Array, layers.get('out.noise_pred.ip_0.7.up_blocks.0.attentions.1').data);
    console.log(`ip-adapter_sdxl.bin InstantStyle scale 0.7: rel ${e.rel.toExponential(2)}`);
    expect(e.rel).toBeLessThan(TOL);
  });
});

describe('CSGO-style checkpoint (style branch only, conv_in override)', () => {
  const gold = new Golden('unet.csgo');
  const unet = new Golden('unet');

  test('detected as CSGO: Resampler style projection, 8 tokens, conv_in_unet_sd present', () => {
    const a = openStyleAdapter(csgoFile, 96);
    expect(a.kind).toBe('csgo');
    expect(a.features).toBe('penultimate_hidden_states');
    expect(a.imageProjection).toMatchObject({ kind: 'resampler', tokens: 8, dim: 96, depth: 4, heads: 2, inputDim: 32 });
    expect(a.convIn?.path).toBe('conv_in_unet_sd');
  });

  test('style tokens and proj(zero features)', async () => {
    const a = openStyleAdapter(csgoFile, 96);
    const g = new Graph({ lowering: PORTABLE_FP32 });
    buildImageProjection(g, a.imageProjection, 2, 50);
    const both = new Float32Array(2 * 50 * 32);
    both.set(gold.get('in.hidden_states_penultimate').data, 50 * 32);
    const out = await runGraph(g, { features: floats([2, 50, 32], both) });
    const tokens = out.style_tokens!.data as Float32Array;
    const eu = relError(tokens.subarray(0, 8 * 96), gold.get('out.uncond_tokens').data);
    const es = relError(tokens.subarray(8 * 96), gold.get('out.style_tokens').data);
    console.log(`CSGO Resampler rel ${es.rel.toExponential(2)}, zeros rel ${eu.rel.toExponential(2)}`);
    expect(es.rel).toBeLessThan(1e-5);
    expect(eu.rel).toBeLessThan(1e-5);
  });

  test('UNet with the CSGO conv_in and up_blocks style layers: weighted sum and AdaIN from one session', async () => {
    const { g, plan } = build(csgoFile, { preset: 'csgo' }, 2);
    expect(plan.styleLayers).toHaveLength(9);
    const t = unet.get('in.timestep').data[0]!;
    const s = await Session.create(g.serialize());
    try {
      for (const [alpha, key] of [[0, 'ipadd_scale1'], [1, 'adain']] as const) {
        const out = await s.run({
          sample: unet.feed('in.sample'), timestep: floats([2], [t, t]), encoder_hidden_states: gold.feed('in.encoder_hidden_states'),
          text_embeds: unet.feed('in.text_embeds'), time_ids: unet.feed('in.time_ids'),
          ip_scale: floats([1], [1]), adain_strength: floats([1], [alpha]), teacher_mask: floats([2], [0, 0]),
        });
        const e = relError(out.noise_pred!.data as Float32Array, gold.get(`out.noise_pred.${key}`).data);
        console.log(`CSGO UNet ${key}: rel ${e.rel.toExponential(2)}`);
        expect(e.rel).toBeLessThan(TOL);
      }
    } finally {
      await s.release();
    }
  });
});

/** Writes a safetensors file holding the tensors of `src`, edited by `edit` (drop with null, or re-shape). */
function editedCopy(src: string, edit: (key: string, shape: readonly number[]) => readonly number[] | null): string {
  const f = readSafetensors(src);
  const bytes = fs.readFileSync(src);
  const header: Record<string, unknown> = {};
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const t of f.tensors.values()) {
    const shape = edit(t.key, t.shape);
    if (!shape) continue;
    const data = bytes.subarray(t.offset, t.offset + t.length);
    header[t.key] = { dtype: t.dtype, shape, data_offsets: [offset, offset + data.length] };
    chunks.push(data);
    offset += data.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'adapter-')), 'edited.safetensors');
  fs.writeFileSync(out, Buffer.concat([len, json, ...chunks]));
  return out;
}

describe('adapter weights fail loudly', () => {
  const src = models('ip-adapter_sdxl.safetensors');
  const plan = planAttention(config, { style: { preset: 'instantstyle' }, styleTokens: 4, teacherShare: false });
  const first = plan.styleLayers[0]!;

  test('a style layer without its to_v_ip: the key, the file and the layer are named', () => {
    const file = editedCopy(src, (k, s) => (k === `ip_adapter.${first.processorId}.to_v_ip.weight` ? null : s));
    const a = openStyleAdapter(file, 96);
    expect(() => a.styleWeights(plan, 96)).toThrow(new RegExp(`ip_adapter\\.${first.processorId}\\.to_v_ip\\.weight.*missing`, 's'));
    expect(() => a.styleWeights(plan, 96)).toThrow(/style layer up_blocks\.0\.attentions\.1\.transformer_blocks\.0\.attn2/);
    expect(() => a.styleWeights(plan, 96)).toThrow(/edited\.safetensors/);
  });

  test('a mis-shaped to_k_ip names both shapes', () => {
    const file = editedCopy(src, (k, s) => (k === `ip_adapter.${first.processorId}.to_k_ip.weight` ? [s[1]!, s[0]!] : s));
    const a = openStyleAdapter(file, 96);
    expect(() => a.styleWeights(plan, 96)).toThrow(/has shape \[96, 32\], expected \[32, 96\]/);
  });

  test('a file that is not an adapter lists what it holds', () => {
    expect(() => openStyleAdapter(fixture('sdxl-tiny', 'vae', 'diffusion_pytorch_model.safetensors'), 96))
      .toThrow(/not a known style adapter.*top-level keys: .*decoder/s);
    expect(() => openStyleAdapter(fixture('sdxl-tiny', 'vae', 'diffusion_pytorch_model.safetensors'), 96)).toThrow(AdapterError);
  });

  test('an adapter made for another cross_attention_dim', () => {
    expect(() => openStyleAdapter(src, 2048)).toThrow(/image_proj\.proj\.weight has 384 outputs, not a multiple of the UNet's cross_attention_dim 2048/);
    expect(() => openStyleAdapter(models('ip-adapter-plus_sdxl_vit-h.safetensors'), 2048)).toThrow(/proj_out makes 96-wide tokens/);
  });

  test('an adapter without ip_adapter weights', () => {
    const file = editedCopy(src, (k, s) => (k.startsWith('ip_adapter.') ? null : s));
    expect(() => openStyleAdapter(file, 96)).toThrow(/has no ip_adapter\.\* weights/);
  });
});

describe("the runtime's UNet graph build: diffusers folder + adapter file → the UNet graph", () => {
  test('tiny SDXL folder + CSGO .bin: plan, conv_in override and inputs (symbolic rows); a runnable graph', async () => {
    const unetComponent = openDiffusersFolder(fixture('sdxl-tiny')).component('unet');
    const plan = planAttention(config, { style: { preset: 'csgo' }, styleTokens: openStyleAdapter(csgoFile, config.cross_attention_dim).tokens, teacherShare: true });
    expect(plan.styleLayers).toHaveLength(9);
    const model = buildGraph({
      kind: 'unet', lowering: PORTABLE_FP32, configFile: unetComponent.configFile, weights: unetComponent.weights().file,
      adapterFile: csgoFile, style: { preset: 'csgo' }, teacherShare: true, rows: 'rows', latentHeight: 8, latentWidth: 8, pooledDim: 48,
    });
    const session = await Session.create(model, { intraOpThreads: 1 });
    expect(session.inputNames).toEqual(['sample', 'timestep', 'encoder_hidden_states', 'text_embeds', 'time_ids', 'ip_scale', 'adain_strength', 'teacher_mask', 'teacher_index']);
    const gold = new Golden('unet.csgo');
    const unet = new Golden('unet');
    const t = unet.get('in.timestep').data[0]!;
    try {
      const out = await session.run({
        sample: unet.feed('in.sample'), timestep: floats([2], [t, t]), encoder_hidden_states: gold.feed('in.encoder_hidden_states'),
        text_embeds: unet.feed('in.text_embeds'), time_ids: unet.feed('in.time_ids'),
        ip_scale: floats([1], [1]), adain_strength: floats([1], [0]), teacher_mask: floats([2], [0, 0]),
        teacher_index: { dtype: 'int64', dims: [2], data: BigInt64Array.from([0n, 1n]) },
      });
      expect(relError(out.noise_pred!.data as Float32Array, gold.get('out.noise_pred.ipadd_scale1').data).rel).toBeLessThan(TOL);
    } finally {
      await session.release();
    }
  });

  test('an fp16 set builds its UNet from diffusion_pytorch_model.fp16.safetensors only', () => {
    const unetComponent = openDiffusersFolder(fixture('sdxl-tiny')).component('unet');
    const model = buildGraph({
      kind: 'unet', lowering: { kind: 'portable', precision: 'fp16' }, configFile: unetComponent.configFile,
      weights: unetComponent.weights({ variant: 'fp16' }).file, adapterFile: null, style: { preset: 'none' }, teacherShare: false,
      rows: 1, latentHeight: 8, latentWidth: 8, pooledDim: 48,
    });
    expect(model.files.length).toBeGreaterThan(0);
    expect(model.files.every((f) => f.endsWith('diffusion_pytorch_model.fp16.safetensors'))).toBe(true);
  });
});
