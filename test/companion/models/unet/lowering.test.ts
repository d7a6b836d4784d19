/**
 * Precision and provider lowerings of the UNet: fp16 (weights straight from *.fp16.safetensors) runs on CPU within a
 * stated bound of fp32; the fused lowering (CUDA/DirectML kernels) is checked structurally — no GPU here.
 */
import * as fs from 'node:fs';
import { Graph } from '../../../../companion/onnx/graph';
import { float32ToFloat16Bits } from '../../../../companion/onnx/elements';
import { float16BitsToNumber } from '../../../../companion/rng/float16';
import { loweringFor, type Lowering } from '../../../../companion/onnx/lowering';
import type { TensorData } from '../../../../companion/onnx/session';
import { WeightStore } from '../../../../companion/weights/weight-store';
import { parseUNetConfig } from '../../../../companion/models/unet/config';
import { planAttention } from '../../../../companion/models/unet/attention-plan';
import { buildUNet } from '../../../../companion/models/unet/unet';
import { openStyleAdapter } from '../../../../companion/models/adapter';
import { runGraph } from '../../../helpers/onnx-run';
import { fixture } from '../../../helpers/paths';
import { Golden, floats, relError } from '../golden';

const config = parseUNetConfig(JSON.parse(fs.readFileSync(fixture('sdxl-tiny', 'unet', 'config.json'), 'utf8')));

function half(t: { shape: number[]; data: Float32Array }): TensorData {
  return { dtype: 'float16', dims: t.shape, data: Uint16Array.from(t.data, float32ToFloat16Bits) };
}


function styleUNet(lowering: Lowering, weights: string, teacherShare = true) {
  const store = WeightStore.open(fixture('sdxl-tiny', 'unet', weights));
  const adapter = openStyleAdapter(fixture('ip-adapter-tiny', 'sdxl_models', 'ip-adapter_sdxl.safetensors'), 96);
  const plan = planAttention(config, { style: { preset: 'instantstyle' }, styleTokens: 4, teacherShare });
  const g = new Graph({ lowering, name: 'unet' });
  buildUNet(g, store, config, plan, {
    batch: 4, height: 8, width: 8, textTokens: 77, pooledDim: 48, styleWeights: adapter.styleWeights(plan, 96),
  });
  store.assertAllRead();
  return { g, plan };
}

describe('fp16 lowering on CPU', () => {
  test('fp16 weights from diffusion_pytorch_model.fp16.safetensors, fp16 activations: within 1.5e-2 of max |fp32 graph|', async () => {
    const gold = new Golden('unet.stylestudio');
    const fp16 = styleUNet({ kind: 'portable', precision: 'fp16' }, 'diffusion_pytorch_model.fp16.safetensors').g;
    const fp32 = styleUNet({ kind: 'portable', precision: 'fp32' }, 'diffusion_pytorch_model.safetensors').g;
    // fp16 weights are used as stored (no Cast of a weight initializer in the graph)
    expect(fp16.usedWeights().every((w) => w.dtype === 'F16')).toBe(true);
    const t = gold.get('in.timestep').data[0]!;
    const controls = {
      timestep: floats([4], [t, t, t, t]),
      time_ids: gold.feed('in.time_ids'),
      ip_scale: floats([1], [1]), adain_strength: floats([1], [1]), teacher_mask: floats([4], [1, 0, 1, 0]),
      teacher_index: { dtype: 'int64', dims: [4], data: BigInt64Array.from([0n, 0n, 2n, 2n]) } as TensorData,
    };
    const out16 = await runGraph(fp16, {
      ...controls, sample: half(gold.get('in.sample')),
      encoder_hidden_states: half(gold.get('in.encoder_hidden_states')), text_embeds: half(gold.get('in.text_embeds')),
    });
    const out32 = await runGraph(fp32, {
      ...controls, sample: gold.feed('in.sample'),
      encoder_hidden_states: gold.feed('in.encoder_hidden_states'), text_embeds: gold.feed('in.text_embeds'),
    });
    expect(out16.noise_pred!.dtype).toBe('float16');
    const y16 = Float32Array.from(out16.noise_pred!.data as Uint16Array, float16BitsToNumber);
    const y32 = out32.noise_pred!.data as Float32Array;
    const e = relError(y16, y32);
    console.log(`fp16 vs fp32 graph (CPU), AdaIN + teacher scenario: rel ${e.rel.toExponential(2)}, max abs ${e.maxAbs.toExponential(2)}`);
    expect(e.rel).toBeLessThan(1.5e-2);
  });
});

describe('fused lowering (CUDA / DirectML): structure', () => {
  const { g, plan } = styleUNet({ kind: 'fused', precision: 'fp16' }, 'diffusion_pytorch_model.fp16.safetensors');
  const ops = g.opTypes();
  const count = (op: string) => ops.filter((o) => o === op).length;

  test('every attention is one com.microsoft.MultiHeadAttention (no N×N map): 34 layers + the style branches', () => {
    expect(count('com.microsoft.MultiHeadAttention')).toBe(plan.layers.length + plan.styleLayers.length);
    expect(count('Softmax')).toBe(0);
  });

  test('teacher sharing gathers Q and K of every attn1 (2 Gathers per self-attention), V stays per row', () => {
    expect(count('Gather')).toBe(2 * plan.layers.filter((l) => l.role === 'self').length);
  });

  test('GroupNorm is the contrib kernel, no InstanceNormalization; AdaIN statistics are cast to fp32', () => {
    expect(count('com.microsoft.GroupNorm')).toBeGreaterThan(0);
    expect(count('InstanceNormalization')).toBe(0);
    expect(count('ReduceMean')).toBe(4 * plan.styleLayers.length);
    expect(count('com.microsoft.FusedMatMul')).toBeGreaterThan(0);
  });

  test('GEGLU feed-forwards use com.microsoft.BiasSplitGelu (one per transformer block)', () => {
    expect(count('com.microsoft.BiasSplitGelu')).toBe(plan.layers.length / 2);
  });

  test('the portable fp32 lowering uses only ops the CPU provider has', () => {
    const portable = styleUNet({ kind: 'portable', precision: 'fp32' }, 'diffusion_pytorch_model.safetensors').g.opTypes();
    const contrib = [...new Set(portable.filter((o) => o.startsWith('com.microsoft.')))];
    expect(contrib).toEqual(['com.microsoft.FusedMatMul']);
  });

  test('the CPU default lowering runs attention as MultiHeadAttention (no N×N map), everything else portable', () => {
    const { g, plan } = styleUNet(loweringFor('cpu'), 'diffusion_pytorch_model.safetensors');
    const ops = g.opTypes();
    const contrib = [...new Set(ops.filter((o) => o.startsWith('com.microsoft.')))].sort();
    expect(contrib).toEqual(['com.microsoft.FusedMatMul', 'com.microsoft.MultiHeadAttention']);
    // one kernel per attention, plus one per style branch (its own K/V); no Softmax left
    expect(ops.filter((o) => o === 'com.microsoft.MultiHeadAttention').length).toBe(plan.layers.length + plan.styleLayers.length);
    expect(ops.filter((o) => o === 'Softmax').length).toBe(0);
  });
});
