/**
 * The tokenizer goldens of the reference golden set (tensors/, copied to test/fixtures/golden): ids of both SDXL tokenizers
 * exactly as StableDiffusionXLPipeline.encode_prompt calls them, plus the untruncated ids.
 */
import * as fs from 'node:fs';
import { ClipTokenizer } from '../../../companion/text/clip-tokenizer';
import { fixture } from '../../helpers/paths';

interface Sidecar {
  inputs: { prompts: string[]; model_max_length: number; special_ids: Record<string, number> };
}

/** Just enough safetensors reading for this file: every tensor is I64 and little-endian. */
function readInt64Tensors(file: string): Map<string, number[]> {
  const bytes = fs.readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    { dtype: string; data_offsets: [number, number] }
  >;
  const tensors = new Map<string, number[]>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (info.dtype !== 'I64') throw new Error(`${file}: ${name} is ${info.dtype}, expected I64`);
    const [begin, end] = info.data_offsets;
    const ids: number[] = [];
    for (let at = 8 + headerLength + begin; at < 8 + headerLength + end; at += 8) ids.push(Number(bytes.readBigInt64LE(at)));
    tensors.set(name, ids);
  }
  return tensors;
}

const sidecar = JSON.parse(fs.readFileSync(fixture('golden', 'tokenizer.json'), 'utf8')) as Sidecar;
const tensors = readInt64Tensors(fixture('golden', 'tokenizer.safetensors'));

describe.each(['tokenizer', 'tokenizer_2'])('sdxl-tiny/%s', (sub) => {
  let tokenizer: ClipTokenizer;
  beforeAll(async () => {
    tokenizer = await ClipTokenizer.fromFolder(fixture('sdxl-tiny', sub));
  });

  test('special ids match the sidecar', () => {
    expect(tokenizer.bosId).toBe(sidecar.inputs.special_ids['bos(<|startoftext|>)']);
    expect(tokenizer.eosId).toBe(sidecar.inputs.special_ids['eos(<|endoftext|>)']);
    const padKey = sub === 'tokenizer' ? 'tokenizer.pad' : "tokenizer_2.pad('!')";
    expect(tokenizer.padId).toBe(sidecar.inputs.special_ids[padKey]);
  });

  test.each(sidecar.inputs.prompts.map((prompt, index) => [index, prompt] as const))('prompt %i', (index, prompt) => {
    const padded = tensors.get(`${sub}.prompt${index}.input_ids`);
    const untruncated = tensors.get(`${sub}.prompt${index}.untruncated_ids`);
    expect(padded).toHaveLength(sidecar.inputs.model_max_length);
    expect(Array.from(tokenizer.encodePadded(prompt))).toEqual(padded);
    expect(tokenizer.encode(prompt)).toEqual(untruncated);
  });
});
