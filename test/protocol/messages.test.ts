import {
  ClientMessage, ERROR_CODES, majorOf, parseClientMessage, parseServerMessage, ServerMessage, STRENGTH_DEFAULT,
  styleControlsForStrength, type GenerateInput,
} from '../../protocol';

const generate: GenerateInput = {
  type: 'generate',
  requestId: 'r1',
  params: { prompt: 'a cat', style: { transferId: 1 }, width: 1024, height: 768 },
};

describe('client messages', () => {
  test('generate fills the documented defaults', () => {
    const out = parseClientMessage(JSON.stringify(generate));
    expect(out.ok).toBe(true);
    if (!out.ok || out.message.type !== 'generate') throw new Error('unreachable');
    expect(out.message.params).toEqual({
      prompt: 'a cat', style: { transferId: 1 }, width: 1024, height: 768,
      crossModalAdain: true, adainStrength: 1, scale: 1, teacherSteps: 20, guidance: 5,
      steps: 50, seed: null, variations: 1, styleLayers: { kind: 'adapter-default' }, styleResize: 'none',
    });
  });

  test('teacherSteps defaults to 40 % of the given steps with a style, and is off without one', () => {
    const out = parseClientMessage(JSON.stringify({ ...generate, params: { ...generate.params, steps: 10 } }));
    expect(out.ok && out.message.type === 'generate' && out.message.params.teacherSteps).toBe(4);
    const { style: _style, ...plain } = generate.params;
    const noStyle = parseClientMessage(JSON.stringify({ ...generate, params: { ...plain, teacherSteps: 5 } }));
    expect(noStyle.ok && noStyle.message.type === 'generate' && noStyle.message.params.teacherSteps).toBe(null);
  });

  test('a negative style is an image or a drop preset, never both, and needs a style', () => {
    for (const extra of [{ negativeStyle: { transferId: 2 } }, { drop: 'colour' }, { drop: 'texture' }]) {
      expect(parseClientMessage(JSON.stringify({ ...generate, params: { ...generate.params, ...extra } })).ok).toBe(true);
    }
    const both = parseClientMessage(JSON.stringify({ ...generate, params: { ...generate.params, negativeStyle: { transferId: 2 }, drop: 'colour' } }));
    expect(!both.ok && both.message).toMatch(/either a negative style image or a drop preset/);
    const { style: _style, ...plain } = generate.params;
    const orphan = parseClientMessage(JSON.stringify({ ...generate, params: { ...plain, drop: 'colour' } }));
    expect(!orphan.ok && orphan.message).toMatch(/needs a style image/);
  });

  test('drop: one element or several, each once, none unknown', () => {
    const parse = (drop: unknown) => parseClientMessage(JSON.stringify({ ...generate, params: { ...generate.params, drop } }));
    for (const drop of ['brushwork', 'lighting', ['colour'], ['lighting', 'colour'], ['colour', 'texture', 'brushwork', 'lighting']]) {
      const r = parse(drop);
      expect(r.ok && r.message.type === 'generate' && r.message.params.drop).toEqual(drop);
    }
    for (const [drop, why] of [[[], /drop/], [['colour', 'colour'], /name each element once/], [['colour', 'shape'], /drop/], ['color', /drop/]] as const) {
      const r = parse(drop);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.message).toMatch(why);
    }
  });

  test('img2img: an init image with denoise (default 0.6); the teacher\'s default counts the steps that run', () => {
    const parse = (extra: object) => parseClientMessage(JSON.stringify({ ...generate, params: { ...generate.params, steps: 50, ...extra } }));
    const byDefault = parse({ init: { transferId: 3 } });
    if (!byDefault.ok || byDefault.message.type !== 'generate') throw new Error('refused');
    expect(byDefault.message.params.denoise).toBe(0.6);
    expect(byDefault.message.params.teacherSteps).toBe(12); // 2/5 of the 30 steps int(50 · 0.6) runs
    const low = parse({ init: { transferId: 3 }, denoise: 0.25 });
    expect(low.ok && low.message.type === 'generate' && [low.message.params.denoise, low.message.params.teacherSteps]).toEqual([0.25, 5]);
    // the same upload may be the style and the layer restyled
    expect(parse({ init: { transferId: 1 } }).ok).toBe(true);
    const orphan = parse({ denoise: 0.5 });
    expect(!orphan.ok && orphan.message).toMatch(/denoise needs an init image/);
    const none = parseClientMessage(JSON.stringify({ ...generate, params: { ...generate.params, steps: 4, init: { transferId: 3 }, denoise: 0.2 } }));
    expect(!none.ok && none.message).toMatch(/denoise 0.2 of 4 steps runs no step/);
    const outOfRange = parse({ init: { transferId: 3 }, denoise: 1.5 });
    expect(!outOfRange.ok && outOfRange.message).toMatch(/params.denoise: Too big/);
    // a plain request has no denoise field at all
    const plain = parseClientMessage(JSON.stringify(generate));
    expect(plain.ok && plain.message.type === 'generate' && 'denoise' in plain.message.params).toBe(false);
  });

  test('one strength sets scale and AdaIN together on the documented curve; the default strength is the default pair', () => {
    expect([0, 0.3, 0.55, STRENGTH_DEFAULT, 0.9, 1].map((s) => styleControlsForStrength(s))).toEqual([
      { scale: 0, adainStrength: 0 }, { scale: 0.3 / 0.8, adainStrength: 0 }, { scale: 0.55 / 0.8, adainStrength: (0.55 - 0.3) / 0.5 },
      { scale: 1, adainStrength: 1 }, { scale: 1 + 2.5 * (0.9 - 0.8), adainStrength: 1 }, { scale: 1.5, adainStrength: 1 },
    ]);
    const params = (extra: object) => {
      const out = parseClientMessage(JSON.stringify({ ...generate, params: { ...generate.params, ...extra } }));
      if (!out.ok || out.message.type !== 'generate') throw new Error(out.ok ? 'not generate' : out.message);
      return out.message.params;
    };
    expect(params({ strength: STRENGTH_DEFAULT })).toEqual(params({}));
    expect(params({ strength: 0.5 })).toMatchObject({ scale: 0.625, adainStrength: 0.4 });
    expect(params({ strength: 0.5 })).not.toHaveProperty('strength');
    for (const both of [{ strength: 0.5, scale: 1 }, { strength: 0.5, adainStrength: 1 }]) {
      const out = parseClientMessage(JSON.stringify({ ...generate, params: { ...generate.params, ...both } }));
      expect(!out.ok && out.message).toMatch(/give strength, or scale and adainStrength, not both/);
    }
    const high = parseClientMessage(JSON.stringify({ ...generate, params: { ...generate.params, strength: 1.2 } }));
    expect(!high.ok && high.message).toMatch(/params\.strength: Too big/);
  });

  test('a field this version does not know is refused, not dropped (an older panel\'s `teacher`)', () => {
    const out = parseClientMessage(JSON.stringify({ ...generate, params: { ...generate.params, teacher: false } }));
    expect(out.ok).toBe(false);
    expect(!out.ok && out.message).toMatch(/teacher/);
  });

  test('sizes off the engine stride are refused with the nearest sizes', () => {
    const out = parseClientMessage(JSON.stringify({ ...generate, params: { ...generate.params, width: 1000 } }));
    expect(!out.ok && out.message).toMatch(/width 1000 is not a multiple of 32; try 992 or 1024/);
  });

  test.each([
    ['not JSON', '{"type":', 'BAD_JSON'],
    ['an array', '[1,2]', 'BAD_MESSAGE'],
    ['null', 'null', 'BAD_MESSAGE'],
    ['no type', '{"token":"x"}', 'UNKNOWN_TYPE'],
    ['unknown type', '{"type":"format-disk"}', 'UNKNOWN_TYPE'],
    ['type of wrong kind', '{"type":42}', 'UNKNOWN_TYPE'],
    ['hello without token', '{"type":"hello","protocolVersion":"2.0"}', 'BAD_MESSAGE'],
    ['hello with a bad version string', '{"type":"hello","protocolVersion":"one","token":"t"}', 'BAD_MESSAGE'],
    ['cancel without jobId', '{"type":"cancel"}', 'BAD_MESSAGE'],
  ])('%s → %s', (_name, text, code) => {
    const out = parseClientMessage(text);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.code).toBe(code);
  });

  test.each([
    ['width not a multiple of 8', { width: 1001 }, 'width'],
    ['width a multiple of 8 but not of the engine\'s 32', { width: 1000 }, 'width'],
    ['height of zero', { height: 0 }, 'height'],
    ['huge steps', { steps: 1e9 }, 'steps'],
    ['fractional seed', { seed: 1.5 }, 'seed'],
    ['negative seed', { seed: -1 }, 'seed'],
    ['5 variations', { variations: 5 }, 'variations'],
    ['teacherSteps beyond steps', { steps: 10, teacherSteps: 20 }, 'teacherSteps'],
    ['unknown drop preset', { negativeStyle: { kind: 'drop', preset: 'shape' } }, 'negativeStyle'],
    ['empty prompt', { prompt: '' }, 'prompt'],
    ['prompt as number', { prompt: 3 }, 'prompt'],
    ['unknown scheduler', { scheduler: 'lms' }, 'scheduler'],
  ])('generate with %s is BAD_MESSAGE naming the field and echoing requestId', (_name, patch, field) => {
    const out = parseClientMessage(JSON.stringify({ ...generate, params: { ...generate.params, ...patch } }));
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.code).toBe('BAD_MESSAGE');
    expect(out.message).toContain(field);
    expect(out.requestId).toBe('r1');
  });

  test('unknown fields are ignored (minor versions may add optional fields)', () => {
    const out = ClientMessage.safeParse({ type: 'status', futureField: 1 });
    expect(out.success).toBe(true);
  });
});

describe('server messages', () => {
  test('each message type round-trips through JSON', () => {
    const messages: ServerMessage[] = [
      { type: 'accepted', requestId: 'r', jobId: 'j', position: 0 },
      { type: 'progress', jobId: 'j', step: 3, total: 50, variation: 0, preview: { transferId: 4, width: 128, height: 96 } },
      { type: 'result', jobId: 'j', index: 0, seed: 42, width: 64, height: 64, transferId: 5 },
      { type: 'done', jobId: 'j', outcome: 'cancelled' },
      { type: 'status', queue: { length: 1, max: 8, mine: [{ jobId: 'k', position: 1 }] }, running: { jobId: 'j', mine: false, step: 1, total: 2 } },
      { type: 'models.progress', requestId: 'p', model: 'sdxl-vae-fp16-fix', file: 'vae/x.safetensors', receivedBytes: 1, totalBytes: 2 },
      { type: 'error', code: 'QUEUE_FULL', message: 'full', requestId: 'r' },
      { type: 'pong' },
    ];
    for (const m of messages) {
      const out = parseServerMessage(JSON.stringify(m));
      expect(out).toEqual({ ok: true, message: m });
    }
  });

  test('an error with a code outside the list is rejected', () => {
    const out = parseServerMessage(JSON.stringify({ type: 'error', code: 'NOPE', message: '' }));
    expect(out.ok).toBe(false);
  });

  test('every error code has a description', () => {
    for (const [code, text] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^[A-Z_]+$/);
      expect(text.length).toBeGreaterThan(10);
    }
  });

  test('majorOf reads the major number', () => {
    expect(majorOf('1.0')).toBe(1);
    expect(majorOf('12.3')).toBe(12);
  });
});
