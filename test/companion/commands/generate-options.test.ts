import { planGenerate, UsageError } from '../../../companion/commands/generate-options';

const base = { model: 'm', prompt: 'A red apple', out: 'o.png' };
const styled = { ...base, style: 's.png', adapter: 'a.bin', imageEncoder: 'enc' };

describe('generate options', () => {
  test('plain SDXL without --style: no teacher, no AdaIN, official defaults', () => {
    const p = planGenerate({ ...base, seed: '42' });
    expect(p.request).toMatchObject({ steps: 50, guidance: 5, seed: 42, variations: 1, width: 1024, height: 1024,
      teacherSteps: null, crossModalAdain: false, styleResize: 'none', styleLayers: { kind: 'adapter-default' } });
    expect(p.request.negativePrompt).toBeUndefined();
    expect(p.provider).toBe('cpu');
  });

  test('with --style: AdaIN and a 2/5 teacher by default; switches turn them off', () => {
    expect(planGenerate(styled).request).toMatchObject({ crossModalAdain: true, teacherSteps: 20 });
    expect(planGenerate({ ...styled, steps: '30' }).request.teacherSteps).toBe(12);
    expect(planGenerate({ ...styled, adain: false, teacher: false }).request).toMatchObject({ crossModalAdain: false, teacherSteps: null });
    expect(planGenerate({ ...styled, teacherSteps: '5' }).request.teacherSteps).toBe(5);
  });

  test('--strength sets --scale and --adain-strength together (0.8 = their defaults) and refuses to be given with them', () => {
    const defaults = planGenerate({ ...styled, seed: '1' }).request;
    expect(planGenerate({ ...styled, seed: '1', strength: '0.8' }).request).toEqual(defaults);
    const mid = planGenerate({ ...styled, strength: '0.4' }).request;
    expect(mid.scale).toBe(0.5);
    expect(mid.adainStrength).toBeCloseTo(0.2, 12);
    expect(() => planGenerate({ ...styled, strength: '0.4', scale: '1' })).toThrow(UsageError);
    expect(() => planGenerate({ ...styled, strength: '0.4', scale: '1' })).toThrow(/give strength, or scale and adainStrength, not both/);
    expect(() => planGenerate({ ...styled, strength: 'strong' })).toThrow(/--strength/);
  });

  test('--drop takes every element, several comma-separated (and the US spelling of colour)', () => {
    for (const element of ['colour', 'texture', 'brushwork', 'lighting']) expect(planGenerate({ ...styled, drop: element }).request.drop).toBe(element);
    expect(planGenerate({ ...styled, drop: 'Color' }).request.drop).toBe('colour');
    expect(planGenerate({ ...styled, drop: 'colour, lighting' }).request.drop).toEqual(['colour', 'lighting']);
    expect(() => planGenerate({ ...styled, drop: 'colour,colour' })).toThrow(/--drop names an element twice: "colour,colour"/);
    expect(() => planGenerate({ ...styled, drop: 'colour,shape' })).toThrow(/--drop must be one of colour, texture, brushwork, lighting, got "shape"/);
  });

  test('--negative-prompt "" is kept as the empty string (it is encoded, not zeroed)', () => {
    expect(planGenerate({ ...base, negativePrompt: '' }).request.negativePrompt).toBe('');
  });

  test('style layers: all, block prefixes, and a clear error for anything else', () => {
    expect(planGenerate({ ...styled, styleLayers: 'all' }).request.styleLayers).toEqual({ kind: 'all' });
    expect(planGenerate({ ...styled, styleLayers: 'up_blocks.0.attentions.1,down_blocks.2' }).request.styleLayers)
      .toEqual({ kind: 'prefixes', prefixes: ['up_blocks.0.attentions.1', 'down_blocks.2'] });
    expect(() => planGenerate({ ...styled, styleLayers: 'up_blocks;rm -rf' })).toThrow(/--style-layers: "up_blocks;rm -rf" is not a UNet block path/);
  });

  test.each<[Record<string, unknown>, RegExp]>([
    [{ ...base, model: undefined }, /--model is required/],
    [{ ...base, prompt: undefined }, /--prompt is required/],
    [{ ...base, out: undefined }, /--out is required/],
    [{ ...base, style: 's.png' }, /--style needs --adapter FILE and --image-encoder DIR/],
    [{ ...base, drop: 'colour' }, /--drop needs --style/],
    [{ ...base, negativeStyle: 'n.png' }, /--negative-style needs --style/],
    [{ ...styled, drop: 'colour', negativeStyle: 'n.png' }, /exclude each other/],
    [{ ...styled, drop: 'shape' }, /--drop must be one of colour, texture, brushwork, lighting, got "shape"/],
    [{ ...styled, teacher: false, teacherSteps: '3' }, /--teacher-steps and --no-teacher exclude each other/],
    [{ ...base, steps: 'ten' }, /--steps must be an integer, got "ten"/],
    [{ ...base, steps: '0' }, /steps must be an integer in \[1, 200\], got 0/],
    [{ ...base, guidance: 'x' }, /--guidance must be a number/],
    [{ ...base, variations: '9' }, /variations must be an integer in \[1, 4\]/],
    [{ ...base, seed: '-1' }, /seed must be an integer in \[0, /],
    [{ ...styled, teacherSteps: '60' }, /teacherSteps must be an integer in \[0, 50\], got 60/],
    [{ ...styled, adainStrength: '2' }, /adainStrength must be a number in \[0, 1\]/],
    [{ ...base, provider: 'tpu' }, /--provider must be one of cpu, cuda, dml, coreml/],
    [{ ...base, styleResize: 'crop' }, /--style-resize must be one of none, square512/],
  ])('usage error %#', (opts, msg) => {
    expect(() => planGenerate(opts)).toThrow(UsageError);
    expect(() => planGenerate(opts)).toThrow(msg);
  });
});
