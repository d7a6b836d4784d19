import { buildClipTextGraph, openClipText } from '../../../companion/models/clip-text';
import type { Lowering } from '../../../companion/onnx/lowering';
import { Session } from '../../../companion/onnx/session';
import { openDiffusersFolder } from '../../../companion/weights/diffusers';
import { golden, readGolden } from '../../helpers/golden';
import { compare } from '../../helpers/onnx-run';
import { fixture } from '../../helpers/paths';

const goldens = readGolden(fixture('golden', 'text_encoder.safetensors'));
const sdxl = openDiffusersFolder(fixture('sdxl-tiny'));

/** Max abs error relative to the tensor's largest magnitude. */
function relError(actual: ArrayLike<number>, expected: Float32Array): number {
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  return compare(actual, expected).maxAbs / scale;
}

async function encode(component: string, lowering: Lowering, variant?: 'fp16') {
  const folder = openClipText(sdxl.component(component), variant ? { variant } : {});
  const built = buildClipTextGraph(folder, { lowering, hiddenStates: [-2], final: true, projection: folder.config.projection_dim !== undefined && component === 'text_encoder_2' });
  const ids = golden(goldens, `raw.${component === 'text_encoder' ? 'te1' : 'te2'}.input_ids`);
  const session = await Session.create(built.graph.serialize());
  try {
    const out = await session.run({ input_ids: { dtype: 'int64', dims: ids.shape, data: ids.data } });
    return { out, built };
  } finally {
    await session.release();
  }
}

const FP32: Lowering = { kind: 'portable', precision: 'fp32' };
const FUSED32: Lowering = { kind: 'fused', precision: 'fp32' };

describe('CLIP text encoders vs transformers 5 (fp32, CPU)', () => {
  it.each([['portable', FP32], ['fused (MultiHeadAttention, contrib Gelu/QuickGelu)', FUSED32]])(
    'text_encoder (CLIPTextModel, quick_gelu, no text_model. prefix) — %s', async (_name, lowering) => {
      const { out, built } = await encode('text_encoder', lowering);
      expect(built.outputs).toEqual(['hidden_states.2', 'last_hidden_state', 'pooler_output']);
      expect(built.unreadKeys).toEqual([]);
      expect(out['hidden_states.2']!.dims).toEqual([1, 77, 32]);
      expect(relError(out['hidden_states.2']!.data as Float32Array, golden(goldens, 'raw.te1.hidden_states_penultimate').data as Float32Array)).toBeLessThan(1e-5);
      expect(relError(out['last_hidden_state']!.data as Float32Array, golden(goldens, 'raw.te1.last_hidden_state').data as Float32Array)).toBeLessThan(1e-5);
      if (lowering.kind === 'fused') expect(built.graph.opTypes()).toEqual(expect.arrayContaining(['com.microsoft.MultiHeadAttention', 'com.microsoft.QuickGelu']));
    });

  it.each([['portable', FP32], ['fused', FUSED32]])(
    'text_encoder_2 (CLIPTextModelWithProjection, gelu, pooled at argmax(ids)) — %s', async (_name, lowering) => {
      const { out, built } = await encode('text_encoder_2', lowering);
      expect(built.outputs).toEqual(['hidden_states.2', 'last_hidden_state', 'pooler_output', 'text_embeds']);
      expect(built.unreadKeys).toEqual([]);
      expect(relError(out['hidden_states.2']!.data as Float32Array, golden(goldens, 'raw.te2.hidden_states_penultimate').data as Float32Array)).toBeLessThan(1e-5);
      expect(relError(out['last_hidden_state']!.data as Float32Array, golden(goldens, 'raw.te2.last_hidden_state').data as Float32Array)).toBeLessThan(1e-5);
      expect(out['text_embeds']!.dims).toEqual([1, 48]);
      expect(relError(out['text_embeds']!.data as Float32Array, golden(goldens, 'raw.te2.text_embeds').data as Float32Array)).toBeLessThan(1e-5);
    });
});
