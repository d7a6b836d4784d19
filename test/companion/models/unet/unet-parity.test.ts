import * as fs from 'node:fs';
import { Graph } from '../../../../companion/onnx/graph';
import { PORTABLE_FP32 } from '../../../../companion/onnx/lowering';
import { WeightStore } from '../../../../companion/weights/weight-store';
import { parseUNetConfig } from '../../../../companion/models/unet/config';
import { planAttention } from '../../../../companion/models/unet/attention-plan';
import { buildUNet } from '../../../../companion/models/unet/unet';
import { runGraph } from '../../../helpers/onnx-run';
import { fixture } from '../../../helpers/paths';
import { Golden, relError } from '../golden';

const TOL = 1e-4;

function load(folder: string) {
  const config = parseUNetConfig(JSON.parse(fs.readFileSync(fixture(folder, 'unet', 'config.json'), 'utf8')));
  const store = WeightStore.open(fixture(folder, 'unet', 'diffusion_pytorch_model.safetensors'));
  return { config, store };
}

describe('UNet2DConditionModel parity with diffusers (fp32, CPU)', () => {
  test('tiny SDXL, no adapter: noise_pred within 1e-4 of max |ref|, and every weight is read', async () => {
    const { config, store } = load('sdxl-tiny');
    const gold = new Golden('unet');
    const g = new Graph({ lowering: PORTABLE_FP32, name: 'unet' });
    const plan = planAttention(config, { style: { preset: 'none' }, styleTokens: 0, teacherShare: false });
    buildUNet(g, store, config, plan, { batch: 2, height: 8, width: 8, textTokens: 77, pooledDim: 48 });
    store.assertAllRead();
    const t = gold.get('in.timestep').data[0]!;
    const out = await runGraph(g, {
      sample: gold.feed('in.sample'),
      timestep: { dtype: 'float32', dims: [2], data: Float32Array.from([t, t]) },
      encoder_hidden_states: gold.feed('in.encoder_hidden_states'),
      text_embeds: gold.feed('in.text_embeds'),
      time_ids: gold.feed('in.time_ids'),
    });
    const e = relError(out.noise_pred!.data as Float32Array, gold.get('out.noise_pred.no_ip').data);
    console.log(`tiny SDXL UNet: rel ${e.rel.toExponential(2)}, max abs ${e.maxAbs.toExponential(2)}`);
    expect(e.rel).toBeLessThan(TOL);
  });

  test('fp16 variant weights (diffusion_pytorch_model.fp16.safetensors) computed in fp32', async () => {
    const { config } = load('sdxl-tiny');
    const store = WeightStore.open(fixture('sdxl-tiny', 'unet', 'diffusion_pytorch_model.fp16.safetensors'));
    const gold = new Golden('unet');
    const g = new Graph({ lowering: PORTABLE_FP32, name: 'unet' });
    buildUNet(g, store, config, planAttention(config, { style: { preset: 'none' }, styleTokens: 0, teacherShare: false }),
      { batch: 2, height: 8, width: 8, textTokens: 77 });
    const t = gold.get('in.timestep').data[0]!;
    const out = await runGraph(g, {
      sample: gold.feed('in.sample'), timestep: { dtype: 'float32', dims: [2], data: Float32Array.from([t, t]) },
      encoder_hidden_states: gold.feed('in.encoder_hidden_states'), text_embeds: gold.feed('in.text_embeds'), time_ids: gold.feed('in.time_ids'),
    });
    const e = relError(out.noise_pred!.data as Float32Array, gold.get('out.noise_pred.no_ip.fp16_variant_weights').data);
    console.log(`tiny SDXL UNet, fp16 weights in fp32: rel ${e.rel.toExponential(2)}`);
    expect(e.rel).toBeLessThan(TOL);
  });

  test('tiny SD 1.5-type (conv proj_in/out, no added embedding): noise_pred within 1e-4', async () => {
    const { config, store } = load('sd15-tiny');
    const gold = new Golden('unet.sd15');
    const g = new Graph({ lowering: PORTABLE_FP32, name: 'unet' });
    const plan = planAttention(config, { style: { preset: 'none' }, styleTokens: 0, teacherShare: false });
    buildUNet(g, store, config, plan, { batch: 2, height: 8, width: 8, textTokens: 77 });
    store.assertAllRead();
    const t = gold.get('in.timestep').data[0]!;
    const out = await runGraph(g, {
      sample: gold.feed('in.sample'),
      timestep: { dtype: 'float32', dims: [2], data: Float32Array.from([t, t]) },
      encoder_hidden_states: gold.feed('in.encoder_hidden_states'),
    });
    const e = relError(out.noise_pred!.data as Float32Array, gold.get('out.noise_pred').data);
    console.log(`tiny SD1.5 UNet: rel ${e.rel.toExponential(2)}, max abs ${e.maxAbs.toExponential(2)}`);
    expect(e.rel).toBeLessThan(TOL);
  });
});
