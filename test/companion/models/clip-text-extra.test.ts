import { buildClipTextGraph, normaliseHiddenIndex, openClipText } from '../../../companion/models/clip-text';
import { Session } from '../../../companion/onnx/session';
import { openComponentFolder } from '../../../companion/weights/diffusers';
import { golden, readGolden } from '../../helpers/golden';
import { compare } from '../../helpers/onnx-run';
import { fixture } from '../../helpers/paths';

// tools/golden/text_encoder.py: eos_token_id 5 (not the legacy 2), gelu_new, keys under `text_model.`, batch 2.
const goldens = readGolden(fixture('golden', 'clip_text_extra.safetensors'));

function relError(actual: ArrayLike<number>, expected: Float32Array): number {
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  return compare(actual, expected).maxAbs / scale;
}

describe('CLIPTextModel with a non-legacy config (vs transformers 5)', () => {
  it('pools at the FIRST eos id, uses tanh GELU, reads text_model.-prefixed keys, returns every hidden state', async () => {
    const folder = openClipText(openComponentFolder(fixture('clip-text-extra')));
    expect(folder.config.eos_token_id).toBe(5);
    const built = buildClipTextGraph(folder, { lowering: { kind: 'portable', precision: 'fp32' }, hiddenStates: [0, 1, 2], final: true });
    expect(built.unreadKeys).toEqual([]);
    const ids = golden(goldens, 'input_ids');
    const session = await Session.create(built.graph.serialize());
    try {
      const out = await session.run({ input_ids: { dtype: 'int64', dims: ids.shape, data: ids.data } });
      for (const name of ['hidden_states.0', 'hidden_states.1', 'hidden_states.2', 'last_hidden_state', 'pooler_output']) {
        const g = golden(goldens, name);
        expect(out[name]!.dims).toEqual(g.shape);
        expect(relError(out[name]!.data as Float32Array, g.data as Float32Array)).toBeLessThan(1e-5);
      }
    } finally {
      await session.release();
    }
  });

  it('refuses hidden-state indices outside the model and a projection the checkpoint lacks, naming the key', () => {
    expect(normaliseHiddenIndex(-2, 2)).toBe(1);
    expect(() => normaliseHiddenIndex(-4, 2)).toThrow(/hidden_states index -4 out of range for 2 layers/);
    const folder = openClipText(openComponentFolder(fixture('clip-text-extra')));
    expect(() => buildClipTextGraph(folder, { lowering: { kind: 'portable', precision: 'fp32' }, final: true, projection: true }))
      .toThrow(/weight "text_projection\.weight": missing \(expected shape \[12, 24\]\)/);
  });
});
