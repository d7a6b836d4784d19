/** CLIPVisionModelWithProjection and the adapters' image projections against transformers/diffusers goldens. */
import * as fs from 'node:fs';
import { Graph } from '../../../companion/onnx/graph';
import { PORTABLE_FP32 } from '../../../companion/onnx/lowering';
import { WeightStore } from '../../../companion/weights/weight-store';
import { buildClipVision, parseClipVisionConfig } from '../../../companion/models/clip-vision';
import { buildImageProjection, buildStyleEncoder } from '../../../companion/models/image-proj';
import { openStyleAdapter } from '../../../companion/models/adapter';
import { runGraph } from '../../helpers/onnx-run';
import { fixture } from '../../helpers/paths';
import { Golden, floats, relError } from './golden';

const TOL = 1e-5; // encoders and projections (golden README §4)
const enc = new Golden('image_encoder');
const plus = new Golden('image_encoder.plus');
const models = (...p: string[]) => fixture('ip-adapter-tiny', 'sdxl_models', ...p);

async function encode(pixels: Float32Array) {
  const config = parseClipVisionConfig(JSON.parse(fs.readFileSync(models('image_encoder', 'config.json'), 'utf8')));
  const store = WeightStore.open(models('image_encoder', 'model.safetensors'));
  const g = new Graph({ lowering: PORTABLE_FP32, name: 'clip_vision' });
  buildClipVision(g, store, config, { batch: 1 });
  store.assertAllRead();
  return runGraph(g, { pixel_values: floats([1, 3, 224, 224], pixels) });
}

describe('CLIPVisionModelWithProjection (transformers, fp16-stored weights run in fp32)', () => {
  test('image_embeds and penultimate hidden states of style.png', async () => {
    const out = await encode(enc.get('style.pixel_values').data);
    const e1 = relError(out.image_embeds!.data as Float32Array, enc.get('style.image_embeds').data);
    const e2 = relError(out.penultimate_hidden_states!.data as Float32Array, enc.get('style.hidden_states_penultimate').data);
    console.log(`CLIP vision image_embeds rel ${e1.rel.toExponential(2)}, penultimate rel ${e2.rel.toExponential(2)}`);
    expect(e1.rel).toBeLessThan(TOL);
    expect(e2.rel).toBeLessThan(TOL);
  });

  test("diffusers' Plus unconditional features = the encoder on zero pixels", async () => {
    const out = await encode(new Float32Array(3 * 224 * 224));
    const prepared = plus.get('prepared.image_embeds'); // (2, 1, 50, 32): [uncond, cond]
    const e = relError(out.penultimate_hidden_states!.data as Float32Array, prepared.data.subarray(0, 50 * 32));
    console.log(`CLIP vision on zero pixels (diffusers Plus uncond) rel ${e.rel.toExponential(2)}`);
    expect(e.rel).toBeLessThan(TOL);
  });
});

describe('image projections (style tokens), including proj(zeros)', () => {
  test('h94 ip-adapter_sdxl: Linear + LayerNorm, 4 tokens, [zeros ; style] = diffusers encoder_hid_proj', async () => {
    const adapter = openStyleAdapter(models('ip-adapter_sdxl.safetensors'), 96);
    expect(adapter.kind).toBe('ip-adapter');
    expect(adapter.features).toBe('image_embeds');
    expect(adapter.tokens).toBe(4);
    const g = new Graph({ lowering: PORTABLE_FP32 });
    buildImageProjection(g, adapter.imageProjection, 2);
    const out = await runGraph(g, { features: floats([2, 32], enc.get('prepared.ip_adapter_image_embeds.0').data) });
    const e = relError(out.style_tokens!.data as Float32Array, enc.get('projected.ip_tokens.0').data);
    console.log(`ImageProjModel rel ${e.rel.toExponential(2)}`);
    expect(e.rel).toBeLessThan(TOL);
  });

  test('h94 ip-adapter-plus_sdxl_vit-h layout: Resampler (depth 4, 2 heads × 64, 6 queries) and Resampler(zeros)', async () => {
    const adapter = openStyleAdapter(models('ip-adapter-plus_sdxl_vit-h.safetensors'), 96);
    expect(adapter.kind).toBe('ip-adapter-plus');
    expect(adapter.imageProjection).toMatchObject({ kind: 'resampler', tokens: 6, dim: 40, depth: 4, heads: 2, dimHead: 64, inputDim: 32 });
    const g = new Graph({ lowering: PORTABLE_FP32 });
    buildImageProjection(g, adapter.imageProjection, 2, 50);
    const feats = plus.get('in.hidden_states_penultimate').data;
    const both = new Float32Array(2 * 50 * 32);
    both.set(feats, 50 * 32); // row 0 = zero features, row 1 = style features
    const out = await runGraph(g, { features: floats([2, 50, 32], both) });
    const tokens = out.style_tokens!.data as Float32Array;
    const eZero = relError(tokens.subarray(0, 6 * 96), plus.get('out.tokens_zero_features').data);
    const eStyle = relError(tokens.subarray(6 * 96), plus.get('out.tokens').data);
    const eDiffusers = relError(tokens.subarray(6 * 96), plus.get('diffusers.tokens').data.subarray(6 * 96));
    console.log(`Resampler rel ${eStyle.rel.toExponential(2)} (vs diffusers ${eDiffusers.rel.toExponential(2)}), zeros rel ${eZero.rel.toExponential(2)}`);
    expect(eStyle.rel).toBeLessThan(TOL);
    expect(eDiffusers.rel).toBeLessThan(TOL);
    expect(eZero.rel).toBeLessThan(TOL);
  });
});

describe('buildStyleEncoder: pixels → CLIP → adapter projection in one graph', () => {
  const vision = () => ({
    config: parseClipVisionConfig(JSON.parse(fs.readFileSync(models('image_encoder', 'config.json'), 'utf8'))),
    store: WeightStore.open(models('image_encoder', 'model.safetensors')),
  });
  const pixels = floats([1, 3, 224, 224], enc.get('style.pixel_values').data);

  test('IP-Adapter: style tokens and proj(zero features) = diffusers encoder_hid_proj([zeros ; embeds])', async () => {
    const { config, store } = vision();
    const adapter = openStyleAdapter(models('ip-adapter_sdxl.safetensors'), 96);
    const g = new Graph({ lowering: PORTABLE_FP32 });
    buildStyleEncoder(g, store, config, adapter, { images: 1, uncond: 'zero-features' });
    const out = await runGraph(g, { pixel_values: pixels });
    const ref = enc.get('projected.ip_tokens.0').data;
    const es = relError(out.style_tokens!.data as Float32Array, ref.subarray(4 * 96));
    const eu = relError(out.uncond_tokens!.data as Float32Array, ref.subarray(0, 4 * 96));
    console.log(`style encoder (IP-Adapter) tokens rel ${es.rel.toExponential(2)}, uncond rel ${eu.rel.toExponential(2)}`);
    expect(es.rel).toBeLessThan(TOL);
    expect(eu.rel).toBeLessThan(TOL);
  });

  test("Plus: 'zero-pixels' reproduces diffusers' uncond, 'zero-features' the official proj(zeros)", async () => {
    const adapter = openStyleAdapter(models('ip-adapter-plus_sdxl_vit-h.safetensors'), 96);
    const d = plus.get('diffusers.tokens').data;
    for (const uncond of ['zero-pixels', 'zero-features'] as const) {
      const { config, store } = vision();
      const g = new Graph({ lowering: PORTABLE_FP32 });
      buildStyleEncoder(g, store, config, adapter, { images: 1, uncond });
      const out = await runGraph(g, { pixel_values: pixels });
      const es = relError(out.style_tokens!.data as Float32Array, d.subarray(6 * 96));
      const refUncond = uncond === 'zero-pixels' ? d.subarray(0, 6 * 96) : plus.get('out.tokens_zero_features').data;
      const eu = relError(out.uncond_tokens!.data as Float32Array, refUncond);
      console.log(`style encoder (Plus, ${uncond}) tokens rel ${es.rel.toExponential(2)}, uncond rel ${eu.rel.toExponential(2)}`);
      expect(es.rel).toBeLessThan(TOL);
      expect(eu.rel).toBeLessThan(TOL);
    }
  });

  test('an adapter made for another image encoder width is refused naming both widths', () => {
    const { config, store } = vision();
    const adapter = openStyleAdapter(models('ip-adapter_sdxl.safetensors'), 96);
    const g = new Graph({ lowering: PORTABLE_FP32 });
    expect(() => buildStyleEncoder(g, store, { ...config, projection_dim: 48 }, adapter, { images: 1, uncond: 'zero-features' }))
      .toThrow(/visual_projection\.weight.*has shape \[32, 32\], expected \[48, 32\]/);
  });
});
