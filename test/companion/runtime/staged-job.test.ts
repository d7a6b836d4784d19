/**
 * Real-size jobs fit because of staging: the tiny default networks run through the same resident cache and memory
 * plan as the real ones, so what is resident when, and how often each network is created and run, is checked here
 * on a job with the teacher on and 4 variations; preflight refuses what cannot run before any session exists.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeImage, type RgbaImage } from '../../../companion/image/rgba';
import { type PipelineEvent, type PipelineRequest, StyleStudioPipeline } from '../../../companion/pipeline/stylestudio-pipeline';
import { DEFAULTS } from '../../../companion/pipeline/request';
import { EngineError } from '../../../companion/runtime/errors';
import { PROCESS_BASE_BYTES } from '../../../companion/runtime/memory';
import { ModelSet, type ModelPaths } from '../../../companion/runtime/model-set';
import { WeightStore } from '../../../companion/weights/weight-store';
import { buildSafetensors, type RawTensor } from '../weights/safetensors-writer';
import { fixture } from '../../helpers/paths';

const SD = (...p: string[]) => fixture('ip-adapter-tiny', 'sdxl_models', ...p);
const CSGO = fixture('ip-adapter-tiny', 'csgo', 'csgo_tiny.bin');
const csgoPaths = (adapter = CSGO): ModelPaths => ({ model: fixture('sdxl-tiny'), adapter, imageEncoder: SD('image_encoder') });
let style: RgbaImage;
let scratch: string;

beforeAll(async () => {
  style = await decodeImage(fs.readFileSync(fixture('golden', 'style.png')));
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-staged-'));
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** The tiny CSGO checkpoint rewritten as safetensors, with keys dropped and extra tensors added. */
function csgoCopy(name: string, o: { drop?: (key: string) => boolean; extra?: Record<string, RawTensor> } = {}): string {
  const store = WeightStore.open(CSGO);
  const tensors: Record<string, RawTensor> = {};
  const fd = fs.openSync(CSGO, 'r');
  try {
    for (const k of store.keys()) {
      if (o.drop?.(k) === true) continue;
      const t = store.get(k)!;
      const data = Buffer.alloc(t.length);
      fs.readSync(fd, data, 0, t.length, t.offset);
      tensors[k] = { dtype: t.dtype, shape: [...t.shape], data };
    }
  } finally {
    fs.closeSync(fd);
  }
  const file = path.join(scratch, name);
  fs.writeFileSync(file, buildSafetensors({ ...tensors, ...o.extra }));
  return file;
}

function request(extra: Partial<PipelineRequest> = {}): PipelineRequest {
  return {
    prompt: 'A red apple', guidance: 5, seed: 7, variations: 4, width: 64, height: 64, style,
    crossModalAdain: true, adainStrength: DEFAULTS.adainStrength, scale: 1, styleLayers: { kind: 'adapter-default' },
    styleResize: 'none', teacherSteps: 1, steps: 3, ...extra,
  };
}

async function collect(p: StyleStudioPipeline, r: PipelineRequest): Promise<PipelineEvent[]> {
  const events: PipelineEvent[] = [];
  for await (const e of p.run(r, { decode: true })) events.push(e);
  return events;
}

describe('staged lifetimes under a small budget (CSGO, teacher on, 4 variations)', () => {
  test('one UNet session, conditioning once per job and released before the UNet needs the room, results as with room to spare', async () => {
    const probe = await ModelSet.open(csgoPaths(), { intraOpThreads: 1 });
    const f = probe.footprints(8, 8, probe.defaultStyleSelection(), 4);
    await probe.close();
    // room for either conditioning network alone, not for the image encoder and the UNet together
    expect(f.textEncoders).toBeLessThanOrEqual(f.imageEncoder!);
    const budget = PROCESS_BASE_BYTES + f.imageEncoder! + f.unet / 2;
    const small = await ModelSet.open(csgoPaths(), { intraOpThreads: 1, memoryBudget: budget });
    const roomy = await ModelSet.open(csgoPaths(), { intraOpThreads: 1 });
    try {
      const log: string[] = [];
      small.cache.onChange((e) => {
        log.push(`${e.kind} ${e.entry.kind}`);
        if (e.kind === 'created') expect(small.cache.accountedBytes).toBeLessThanOrEqual(small.cache.budget);
      });
      const events = await collect(new StyleStudioPipeline(small), request());
      expect(events.filter((e) => e.kind === 'phase' && e.phase === 'conditioning').map((e) => e.kind === 'phase' && e.network))
        .toEqual(['text-encoders', 'image-encoder']); // once for all 4 variations
      expect(events.filter((e) => e.kind === 'result').map((e) => e.kind === 'result' && e.variation.seed)).toEqual([7, 8, 9, 10]);
      expect(events.filter((e) => e.kind === 'step')).toHaveLength(4 * 3);
      // every session, the text encoders' included, came from the set's one recipe (and was recorded by it)
      expect(small.creations.map((c) => c.network)).toEqual(['text-encoder', 'text-encoder-2', 'image-encoder', 'image-projection', 'unet', 'vae-decoder']);
      expect(log).toEqual([
        'created text-encoders',
        'released text-encoders', 'created image-encoder',
        'released image-encoder', 'created unet', // conditioning released before the UNet loads
        'created vae-decoder',
      ]);
      expect(small.sessionsCreated).toBe(4);
      expect(small.cache.list().map((e) => [e.kind, e.pins])).toEqual([['unet', 0], ['vae-decoder', 0]]);

      // the same job with room to spare keeps everything and gives bit-identical latents
      const wide = await new StyleStudioPipeline(roomy).generate(request(), { decode: false });
      const narrow = events.flatMap((e) => (e.kind === 'result' ? [e.variation] : []));
      for (const v of wide.variations) expect(Buffer.from(narrow[v.index]!.latents.data.buffer).equals(Buffer.from(v.latents.data.buffer))).toBe(true);
      expect(roomy.cache.list().map((e) => e.kind).sort()).toEqual(['image-encoder', 'text-encoders', 'unet']);

      // the next job: the text encoders and the warm UNet + decoder do not fit together here, so the UNet goes
      log.length = 0;
      await collect(new StyleStudioPipeline(small), request({ seed: 100, variations: 1 }));
      expect(log[0]).toBe('released unet'); // least recently used of the warm pair; the decoder goes too if still short
      expect(log.indexOf('created text-encoders')).toBeGreaterThan(0);
    } finally {
      await small.close();
      await roomy.close();
    }
  });

  test('with room for the UNet and the decoder beside either conditioning network, they stay warm between jobs', async () => {
    const probe = await ModelSet.open(csgoPaths(), { intraOpThreads: 1 });
    const f = probe.footprints(8, 8, probe.defaultStyleSelection(), 4);
    await probe.close();
    const set = await ModelSet.open(csgoPaths(), { intraOpThreads: 1, memoryBudget: PROCESS_BASE_BYTES + f.imageEncoder! + f.unet + f.vaeDecoder + 1024 });
    try {
      await collect(new StyleStudioPipeline(set), request({ variations: 1 }));
      const log: string[] = [];
      set.cache.onChange((e) => log.push(`${e.kind} ${e.entry.kind}`));
      await collect(new StyleStudioPipeline(set), request({ seed: 100, variations: 2 }));
      expect(log).toEqual(['released image-encoder', 'created text-encoders', 'released text-encoders', 'created image-encoder']);
      expect(set.cache.list().map((e) => e.kind)).toEqual(['image-encoder', 'unet', 'vae-decoder']);
    } finally {
      await set.close();
    }
  });

  test('when the UNet and the VAE decoder do not fit together, every variation is decoded after the UNet is let go', async () => {
    const probe = await ModelSet.open(csgoPaths(), { intraOpThreads: 1 });
    const f = probe.footprints(8, 8, probe.defaultStyleSelection(), 4);
    await probe.close();
    const budget = PROCESS_BASE_BYTES + Math.max(f.imageEncoder!, f.unet + f.vaeDecoder / 2);
    const set = await ModelSet.open(csgoPaths(), { intraOpThreads: 1, memoryBudget: budget });
    try {
      const events = await collect(new StyleStudioPipeline(set), request({ variations: 2 }));
      const order = events.map((e) => (e.kind === 'phase' ? `${e.phase}:${e.network}` : e.kind === 'result' ? `result ${e.variation.index}` : 'step'))
        .filter((s) => s !== 'step');
      expect(order).toEqual(['conditioning:text-encoders', 'conditioning:image-encoder', 'denoise:unet', 'decode:vae-decoder', 'result 0', 'result 1']);
      expect(events.every((e) => e.kind !== 'result' || e.variation.image?.width === 64)).toBe(true);
    } finally {
      await set.close();
    }
  });
});

test("the teacher's two row pairs run one after the other give the same latents as one 4-row call", async () => {
  const whole = await ModelSet.open(csgoPaths(), { intraOpThreads: 1 });
  const paired = await ModelSet.open(csgoPaths(), { intraOpThreads: 1, maxRowsPerRun: 2 });
  try {
    const r = request({ variations: 1, steps: 3, teacherSteps: 2 });
    expect(new StyleStudioPipeline(paired).preflight(r)).toMatchObject({ rows: 4, rowsPerRun: 2, memory: { rowsPerRun: 2 } });
    const a = await new StyleStudioPipeline(whole).generate(r, { decode: false });
    const b = await new StyleStudioPipeline(paired).generate(r, { decode: false });
    expect(b.unetRowEvaluations).toBe(a.unetRowEvaluations);
    const x = a.variations[0]!.latents.data;
    const y = b.variations[0]!.latents.data;
    let num = 0;
    let den = 0;
    for (let i = 0; i < x.length; i++) {
      num += (x[i]! - y[i]!) ** 2;
      den += x[i]! ** 2;
    }
    console.log(`4 rows at once vs 2 + 2: rel L2 ${Math.sqrt(num / den).toExponential(2)}`);
    expect(Math.sqrt(num / den)).toBeLessThan(1e-6);
  } finally {
    await whole.close();
    await paired.close();
  }
});

describe('preflight: one clear error before any session exists', () => {
  let set: ModelSet;
  beforeAll(async () => {
    set = await ModelSet.open(csgoPaths(), { intraOpThreads: 1 });
  });
  afterAll(async () => set.close());

  const refused = (r: PipelineRequest): EngineError => {
    try {
      new StyleStudioPipeline(set).preflight(r);
    } catch (e) {
      expect(set.sessionsCreated).toBe(0);
      return e as EngineError;
    }
    throw new Error('preflight accepted the request');
  };

  test('an output too small for AdaIN in the style layers names the smallest size that works', () => {
    const e = refused(request({ width: 32, height: 32 }));
    expect(e.code).toBe('BAD_SIZE');
    expect(e.message).toBe('at 32×32 the style layer up_blocks.0.attentions.0 sees 1 token; AdaIN needs at least 2 (use at least 64×32 or 32×64, or style layers at a higher resolution)');
    expect(() => new StyleStudioPipeline(set).preflight(request({ width: 64, height: 32 }))).not.toThrow();
  });

  test('a size off the stride', () => {
    expect(refused(request({ width: 80 }))).toMatchObject({ code: 'BAD_SIZE', message: 'width 80 is not a multiple of 32; try 64 or 96' });
  });

  test('CSGO: all layers would use its content weights as style; the mid block has no weights', () => {
    expect(refused(request({ styleLayers: { kind: 'all' } }))).toMatchObject({
      code: 'STYLE_LAYERS',
    });
    expect(refused(request({ styleLayers: { kind: 'all' } })).message).toMatch(/^CSGO's weights in down_blocks\.\d\.attentions\.\d(, down_blocks\.\d\.attentions\.\d)* are its content branch, not style weights; choose style layers in up_blocks \(the default\) or a block under it$/);
    expect(refused(request({ styleLayers: { kind: 'prefixes', prefixes: ['down_blocks.2'] } })).code).toBe('STYLE_LAYERS');
  });

  test('style layers the adapter has no weights for (the published CSGO has none in the mid block)', async () => {
    const mid = set.planFor({ preset: 'all' }).styleLayers.filter((l) => l.path.startsWith('mid_block.')).map((l) => l.processorId);
    expect(mid.length).toBeGreaterThan(0);
    const file = csgoCopy('csgo_no_mid.safetensors', { drop: (k) => mid.some((id) => k.startsWith(`ip_adapter.${id}.`)) });
    const noMid = await ModelSet.open(csgoPaths(file), { intraOpThreads: 1 });
    try {
      expect(() => new StyleStudioPipeline(noMid).preflight(request({ styleLayers: { kind: 'prefixes', prefixes: ['mid_block'] } }))).toThrow(expect.objectContaining({
        code: 'STYLE_LAYERS', message: `${fs.realpathSync(file)} has no weights for the style layers of mid_block.attentions.0; choose up_blocks (the default)`,
      }));
    } finally {
      await noMid.close();
    }
  });

  test('a budget too small for the job is refused with both figures', async () => {
    const tight = await ModelSet.open(csgoPaths(), { intraOpThreads: 1, memoryBudget: PROCESS_BASE_BYTES + 1024 });
    try {
      expect(() => new StyleStudioPipeline(tight).preflight(request())).toThrow(/^this job needs \d+\.\d GiB but the memory budget is 0\.5 GiB \(largest phase: conditioning\)/);
      expect(tight.sessionsCreated).toBe(0);
    } finally {
      await tight.close();
    }
  });

  test("CSGO's controlnet_adapter_modules are ignored with a note; keys of no known layout are refused", async () => {
    const extra = { dtype: 'F32', shape: [2, 2], data: Buffer.alloc(16) };
    const withControlnet = csgoCopy('csgo_controlnet.safetensors', { extra: { 'controlnet_adapter_modules.0.to_k_ip.weight': extra } });
    const ok = await ModelSet.open(csgoPaths(withControlnet), { intraOpThreads: 1 });
    try {
      expect(ok.notes).toContain(`${fs.realpathSync(withControlnet)}: controlnet_adapter_modules.* (1 tensors) is not used by StyleStudio and is ignored`);
      const r = await new StyleStudioPipeline(ok).generate(request({ variations: 1, steps: 1 }), { decode: false });
      expect(r.variations[0]!.latents.data.every(Number.isFinite)).toBe(true);
    } finally {
      await ok.close();
    }
    const foreign = csgoCopy('csgo_foreign.safetensors', { extra: { 'lora_unet.down.weight': extra } });
    const bad = await ModelSet.open(csgoPaths(foreign), { intraOpThreads: 1 });
    try {
      expect(() => new StyleStudioPipeline(bad).preflight(request())).toThrow(expect.objectContaining({
        code: 'ADAPTER_KEYS', message: `${fs.realpathSync(foreign)}: 1 weights outside the csgo layout (lora_unet.down.weight); is this the right adapter file?`,
      }));
    } finally {
      await bad.close();
    }
  });
});
