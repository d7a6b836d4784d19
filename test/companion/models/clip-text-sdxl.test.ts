import * as fs from 'node:fs';
import { SdxlTextEncoders, TokenIdError, type SdxlPromptIds } from '../../../companion/models/clip-text-sdxl';
import type { TensorData } from '../../../companion/onnx/session';
import { openDiffusersFolder } from '../../../companion/weights/diffusers';
import { golden, readGolden } from '../../helpers/golden';
import { compare } from '../../helpers/onnx-run';
import { fixture } from '../../helpers/paths';

const goldens = readGolden(fixture('golden', 'text_encoder.safetensors'));
/** Token ids per case, made by tools/golden/text_encoder.py with the sdxl-tiny tokenizers. */
const ids = JSON.parse(fs.readFileSync(fixture('golden', 'text_encoder_ids.json'), 'utf8')) as Record<string, { prompt: SdxlPromptIds; negative?: SdxlPromptIds }>;

function relError(actual: ArrayLike<number>, expected: Float32Array): number {
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  return scale === 0 ? compare(actual, expected).maxAbs : compare(actual, expected).maxAbs / scale;
}

describe('SDXL encode_prompt from token ids (fp32 CPU, vs diffusers)', () => {
  let encoders: SdxlTextEncoders;
  beforeAll(async () => {
    encoders = await SdxlTextEncoders.create(openDiffusersFolder(fixture('sdxl-tiny')), { session: { provider: 'cpu' } });
  });
  afterAll(async () => {
    await encoders.release();
  });

  it.each(['neg_none', 'neg_empty', 'neg_text', 'prompt2'])('case %s equals all four encode_prompt outputs within 1e-5', async (name) => {
    const c = ids[name]!;
    expect(encoders.forceZerosForEmptyPrompt).toBe(true);
    const out = await encoders.encode(c.negative ? { prompt: c.prompt, negative: c.negative } : { prompt: c.prompt });
    const check = (actual: TensorData, key: string) => {
      const g = golden(goldens, `encode.${name}.${key}`);
      expect(actual.dims).toEqual(g.shape);
      expect(relError(actual.data as Float32Array, g.data as Float32Array)).toBeLessThan(1e-5);
    };
    check(out.promptEmbeds, 'prompt_embeds');
    check(out.negativePromptEmbeds, 'negative_prompt_embeds');
    check(out.pooledPromptEmbeds, 'pooled_prompt_embeds');
    check(out.negativePooledPromptEmbeds, 'negative_pooled_prompt_embeds');
    if (name === 'neg_none') expect((out.negativePromptEmbeds.data as Float32Array).every((v) => v === 0)).toBe(true);
  });

  it('refuses ids outside the vocabulary or of the wrong length, naming the encoder', async () => {
    const good = ids['neg_none']!.prompt;
    await expect(encoders.encode({ prompt: { te1: good.te1, te2: [...good.te2.slice(0, 76), 9999] } }))
      .rejects.toThrow(/text_encoder_2: token id 9999 at position 76 is outside the vocabulary \(size 723\)/);
    await expect(encoders.encode({ prompt: { te1: good.te1.slice(0, 10), te2: good.te2 } }))
      .rejects.toThrow(TokenIdError);
  });
});
