import { buildClipTextGraph, openClipText } from '../../../companion/models/clip-text';
import type { Lowering } from '../../../companion/onnx/lowering';
import { Session } from '../../../companion/onnx/session';
import { openDiffusersFolder } from '../../../companion/weights/diffusers';
import { golden, readGolden } from '../../helpers/golden';
import { compare } from '../../helpers/onnx-run';
import { fixture } from '../../helpers/paths';
import { decodeModel } from '../../helpers/proto-decode';

const goldens = readGolden(fixture('golden', 'text_encoder.safetensors'));
const sdxl = openDiffusersFolder(fixture('sdxl-tiny'));

function relError(actual: ArrayLike<number>, expected: Float32Array): number {
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  return compare(actual, expected).maxAbs / scale;
}

// Bounds against the fp32 goldens (measured on CPU: ~8e-4 for fp16 weights in fp32, ~1.1e-3 for fp16 compute).
const CASES: [string, Lowering, number][] = [
  ['fp16 weights, fp32 compute: ≤ 2e-3 rel', { kind: 'portable', precision: 'fp32' }, 2e-3],
  ['fp16 weights, fp16 compute (portable): ≤ 4e-3 rel', { kind: 'portable', precision: 'fp16' }, 4e-3],
  ['fp16 weights, fp16 compute (fused): ≤ 4e-3 rel', { kind: 'fused', precision: 'fp16' }, 4e-3],
];

describe('CLIP text encoders from the fp16 variant files', () => {
  it.each(CASES)('%s of the fp32 goldens', async (_name, lowering, bound) => {
    for (const [component, tag] of [['text_encoder', 'te1'], ['text_encoder_2', 'te2']] as const) {
      const folder = openClipText(sdxl.component(component), { variant: 'fp16' });
      expect(folder.note).toBeNull();
      const built = buildClipTextGraph(folder, { lowering, hiddenStates: [-2], final: true, projection: component === 'text_encoder_2' });
      const model = built.graph.serialize();
      const decoded = decodeModel(model.bytes);
      const external = decoded.initializers.filter((i) => i.external['location']);
      expect(external.length).toBeGreaterThan(0);
      expect(external.every((i) => i.dataType === 10 && i.external['location'] === 'model.fp16.safetensors')).toBe(true);
      // fp16 compute takes the fp16 weights as they are stored: no Cast reads an initializer.
      const casts = decoded.nodes.filter((n) => n.opType === 'Cast' && external.some((i) => n.inputs.includes(i.name)));
      expect(casts.length).toBe(lowering.precision === 'fp16' ? 0 : external.length);

      const ids = golden(goldens, `raw.${tag}.input_ids`);
      const session = await Session.create(model);
      try {
        const out = await session.run({ input_ids: { dtype: 'int64', dims: ids.shape, data: ids.data } });
        expect(relError(out['hidden_states.2']!.data as Float32Array, golden(goldens, `raw.${tag}.hidden_states_penultimate`).data as Float32Array)).toBeLessThan(bound);
        expect(relError(out['last_hidden_state']!.data as Float32Array, golden(goldens, `raw.${tag}.last_hidden_state`).data as Float32Array)).toBeLessThan(bound);
        if (tag === 'te2') {
          expect(relError(out['text_embeds']!.data as Float32Array, golden(goldens, 'raw.te2.text_embeds').data as Float32Array)).toBeLessThan(bound);
        }
      } finally {
        await session.release();
      }
    }
  });
});
