/**
 * One attention layer of the tiny UNet (up_blocks.0.attentions.1.transformer_blocks.0) built with our processors and
 * compared directly with the official StyleStudio processors' outputs (shared golden stylestudio_processors:
 * IPAttnProcessor2_0_cross_modal and AttnProcessor2_0_hijack, unmodified source, fp32).
 */
import { Graph, type Value } from '../../../../companion/onnx/graph';
import { PORTABLE_FP32 } from '../../../../companion/onnx/lowering';
import { readSafetensors } from '../../../../companion/weights/safetensors';
import { WeightStore } from '../../../../companion/weights/weight-store';
import { type AttentionContext, crossAttention, selfAttention } from '../../../../companion/models/unet/attention';
import { reshape } from '../../../../companion/onnx/ops/basic';
import { runGraph } from '../../../helpers/onnx-run';
import { fixture } from '../../../helpers/paths';
import { Golden, floats, int64s, relError } from '../golden';

const gold = new Golden('stylestudio_processors');
const goldFile = readSafetensors(fixture('golden', 'stylestudio_processors.safetensors'));
const block = 'up_blocks.0.attentions.1.transformer_blocks.0';

function rows(key: string, batch: number): Float32Array {
  const t = gold.get(key);
  const per = t.data.length / t.shape[0]!;
  return batch === 4 ? t.data : t.data.slice(per, 2 * per); // batch-1 cases use row 1
}

async function cross(batch: number, scale: number, alpha: number, teacher: number[], style = true): Promise<Float32Array> {
  const store = WeightStore.open(fixture('sdxl-tiny', 'unet', 'diffusion_pytorch_model.safetensors'));
  const g = new Graph({ lowering: PORTABLE_FP32 });
  const hs = g.input('hs', 'float32', [batch, 16, 32]);
  const ehs = g.input('ehs', 'float32', [batch, 81, 96]);
  const mask: Value = reshape(g.input('teacher_mask', 'float32', [batch]), [batch, 1, 1]);
  const ctx: AttentionContext = {
    heads: 4, unetRoot: '', textTokens: 77, adainVarianceFloor: 0,
    style: { ipScale: g.input('ip_scale', 'float32', [1]), adainStrength: g.input('adain_strength', 'float32', [1]), teacherMask: mask },
    styleWeights: () => ({ toK: goldFile.tensors.get('in.to_k_ip.weight')!, toV: goldFile.tensors.get('in.to_v_ip.weight')! }),
  };
  g.output('y', crossAttention(store.child(`${block}.attn2`), hs, ehs, style ? { kind: 'style', tokens: 4 } : { kind: 'text' }, ctx));
  const out = await runGraph(g, {
    hs: floats([batch, 16, 32], rows('in.hidden_states', batch)),
    ehs: floats([batch, 81, 96], rows('in.encoder_hidden_states', batch)),
    teacher_mask: floats([batch], teacher), ip_scale: floats([1], [scale]), adain_strength: floats([1], [alpha]),
  });
  return out.y!.data as Float32Array;
}

describe('our attention processors = the official StyleStudio processors (one layer, fp32)', () => {
  test.each([
    ['cross.scale1.b1', 1, 1.0, 0, [0]],
    ['cross.scale0.7.b1', 1, 0.7, 0, [0]],
    ['cross.adain.b1', 1, 1.0, 1, [0]],
    ['cross.scale1.b4', 4, 1.0, 0, [1, 0, 1, 0]],
    ['cross.adain.b4', 4, 1.0, 1, [1, 0, 1, 0]],
  ] as const)('%s', async (name, batch, scale, alpha, teacher) => {
    const e = relError(await cross(batch, scale, alpha, [...teacher]), gold.get(`${name}.out`).data);
    console.log(`${name}: rel ${e.rel.toExponential(2)}`);
    expect(e.rel).toBeLessThan(1e-5);
  });

  test('cross.skip.b1: a non-style layer drops the style tokens', async () => {
    const e = relError(await cross(1, 1, 0, [0], false), gold.get('cross.skip.b1.out').data);
    expect(e.rel).toBeLessThan(1e-5);
  });

  test.each([
    ['self.fuSAttn.b4', [0, 0, 2, 2]],
    ['self.plain.b4', [0, 1, 2, 3]],
  ] as const)('%s: Attention(Q_teacher, K_teacher, V_own) = the copied attention map', async (name, index) => {
    const store = WeightStore.open(fixture('sdxl-tiny', 'unet', 'diffusion_pytorch_model.safetensors'));
    const g = new Graph({ lowering: PORTABLE_FP32 });
    const hs = g.input('hs', 'float32', [4, 16, 32]);
    const ctx: AttentionContext = { heads: 4, unetRoot: '', textTokens: 77, adainVarianceFloor: 0, teacherIndex: g.input('teacher_index', 'int64', [4]) };
    g.output('y', selfAttention(store.child(`${block}.attn1`), hs, { kind: 'self', teacherShare: true }, ctx));
    const out = await runGraph(g, { hs: gold.feed('in.hidden_states'), teacher_index: int64s([...index]) });
    const e = relError(out.y!.data as Float32Array, gold.get(`${name}.out`).data);
    console.log(`${name}: rel ${e.rel.toExponential(2)}`);
    expect(e.rel).toBeLessThan(1e-5);
  });
});
