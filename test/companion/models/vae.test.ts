import * as fs from 'node:fs';
import { Graph } from '../../../companion/onnx/graph';
import { PORTABLE_FP32 } from '../../../companion/onnx/lowering';
import { WeightStore } from '../../../companion/weights/weight-store';
import { buildVaeDecoder, buildVaeEncoder, parseVaeConfig } from '../../../companion/models/vae';
import { runGraph } from '../../helpers/onnx-run';
import { fixture } from '../../helpers/paths';
import { Golden, relError } from './golden';

const TOL = 1e-4;
const config = parseVaeConfig(JSON.parse(fs.readFileSync(fixture('sdxl-tiny', 'vae', 'config.json'), 'utf8')));
const gold = new Golden('vae');

describe('AutoencoderKL parity with diffusers (fp32, CPU)', () => {
  test('decoder: pipeline latents ÷ scaling_factor (0.13025) → sample', async () => {
    const store = WeightStore.open(fixture('sdxl-tiny', 'vae', 'diffusion_pytorch_model.safetensors'));
    const g = new Graph({ lowering: PORTABLE_FP32, name: 'vae_decoder' });
    buildVaeDecoder(g, store, config, { batch: 1, height: 8, width: 8 });
    store.assertAllRead([/^encoder\./, /^quant_conv\./]);
    const out = await runGraph(g, { latents: gold.feed('decode.latents') });
    const e = relError(out.sample!.data as Float32Array, gold.get('decode.sample').data);
    console.log(`VAE decode: rel ${e.rel.toExponential(2)}, max abs ${e.maxAbs.toExponential(2)}`);
    expect(e.rel).toBeLessThan(TOL);
  });

  test('decoder with the fp16 weight file (upcast to fp32, as diffusers does for fp32 runs)', async () => {
    const store = WeightStore.open(fixture('sdxl-tiny', 'vae', 'diffusion_pytorch_model.fp16.safetensors'));
    const g = new Graph({ lowering: PORTABLE_FP32, name: 'vae_decoder' });
    buildVaeDecoder(g, store, config, { batch: 1, height: 8, width: 8 });
    const out = await runGraph(g, { latents: gold.feed('decode.latents') });
    const e = relError(out.sample!.data as Float32Array, gold.get('decode.sample.fp16_variant_weights').data);
    console.log(`VAE decode, fp16 weights in fp32: rel ${e.rel.toExponential(2)}`);
    expect(e.rel).toBeLessThan(TOL);
  });

  test('encoder: latent_dist mean / std and mean · scaling_factor', async () => {
    const store = WeightStore.open(fixture('sdxl-tiny', 'vae', 'diffusion_pytorch_model.safetensors'));
    const g = new Graph({ lowering: PORTABLE_FP32, name: 'vae_encoder' });
    buildVaeEncoder(g, store, config, { batch: 1, height: 64, width: 64 });
    store.assertAllRead([/^decoder\./, /^post_quant_conv\./]);
    const out = await runGraph(g, { image: gold.feed('encode.image') });
    for (const [name, key] of [['latent_mean', 'encode.latent_mean'], ['latent_std', 'encode.latent_std'], ['latent_mean_scaled', 'encode.latent_mean_scaled']] as const) {
      const e = relError(out[name]!.data as Float32Array, gold.get(key).data);
      console.log(`VAE encode ${name}: rel ${e.rel.toExponential(2)}`);
      expect(e.rel).toBeLessThan(TOL);
    }
  });

  test('configs the engine cannot build are refused naming the key', () => {
    const raw = JSON.parse(fs.readFileSync(fixture('sdxl-tiny', 'vae', 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(() => parseVaeConfig({ ...raw, up_block_types: ['UpDecoderBlock2D'] })).toThrow(/up_block_types: has 1 entries, block_out_channels has 4/);
    expect(() => parseVaeConfig({ ...raw, scaling_factor: undefined })).toThrow(/scaling_factor/);
  });
});
