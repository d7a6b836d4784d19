/**
 * The daemon's GenerationEngine on the real pipeline and tiny models: images equal the pipeline's for the same
 * seeds (style preprocessing in its worker included), progress/preview events, one image per variation in seed
 * order, abort at a step boundary, and a not-ready status for missing models.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GenerationAborted, type GeneratedImage, type GenerationRequest, type StepEvent } from '../../../companion/engine/engine';
import { OnnxGenerationEngine, pipelineRequest } from '../../../companion/engine/onnx-engine';
import { ModelSet } from '../../../companion/runtime/model-set';
import { StyleStudioPipeline } from '../../../companion/pipeline/stylestudio-pipeline';
import { decodeImage } from '../../../companion/image/rgba';
import { fixture } from '../../helpers/paths';

const SD = (...p: string[]) => fixture('ip-adapter-tiny', 'sdxl_models', ...p);
const paths = { model: fixture('sdxl-tiny'), adapter: SD('ip-adapter_sdxl.safetensors'), imageEncoder: SD('image_encoder') };

let engine: OnnxGenerationEngine;
let request: GenerationRequest;

// A fresh engine per test: whether networks are resident (status, loading stages) must not depend on which tests
// ran before (jest --randomize).
beforeEach(async () => {
  engine = await OnnxGenerationEngine.open({ paths, intraOpThreads: 1 });
});
afterEach(async () => {
  await engine.close();
});

beforeAll(async () => {
  const style = await decodeImage(fs.readFileSync(fixture('golden', 'style.png')));
  request = {
    prompt: 'A red apple', style, drop: 'texture', crossModalAdain: true, adainStrength: 1, scale: 1, teacherSteps: 2,
    guidance: 5, steps: 4, seeds: [7, 8], variations: 2, width: 64, height: 64, scheduler: 'euler', styleLayers: { kind: 'adapter-default' }, styleResize: 'none',
  };
});


async function collect(r: GenerationRequest, signal: AbortSignal, events: StepEvent[]): Promise<GeneratedImage[]> {
  const out: GeneratedImage[] = [];
  for await (const img of engine.generate(r, { signal, previewSide: 4, onStep: (e) => events.push(e) })) out.push(img);
  return out;
}

test('status: ready on cpu, present before the first job (nothing loaded)', () => {
  expect(engine.status()).toMatchObject({ ready: true, provider: 'cpu', state: 'present', memory: { residentBytes: 0, resident: [] } });
  expect(engine.status().providers).toContain('cpu');
});

test('admit refuses at submit, loading nothing, what cannot run: a size too small for AdaIN, a job over the budget', async () => {
  expect(() => engine.admit({ ...request, width: 32, height: 32 })).toThrow(expect.objectContaining({ code: 'BAD_SIZE' }));
  expect(() => engine.admit(request)).not.toThrow();
  const tight = await OnnxGenerationEngine.open({ paths, intraOpThreads: 1, memoryBudget: 0.6 * 2 ** 30 });
  try {
    expect(() => tight.admit(request)).toThrow(expect.objectContaining({ code: 'MEMORY_BUDGET', message: expect.stringMatching(/^this job needs 0\.\d GiB but the memory budget is 0\.6 GiB/) }));
    expect(tight.status().memory!.resident).toEqual([]);
  } finally {
    await tight.close();
  }
});

test('two variations: images in seed order, equal to the pipeline run directly; step events and small previews; loading stages once', async () => {
  const events: StepEvent[] = [];
  const stages: string[] = [];
  const images: GeneratedImage[] = [];
  for await (const img of engine.generate(request, { signal: new AbortController().signal, previewSide: 4, onStep: (e) => events.push(e), onStage: (s) => stages.push(s) })) {
    images.push(img);
  }
  expect(stages).toEqual(['loading the text encoders', 'loading the image encoder', 'loading the UNet', 'loading the VAE decoder']);
  expect(engine.status().state).toBe('warm');
  expect(images.map((i) => [i.index, i.seed])).toEqual([[0, 7], [1, 8]]);
  expect(events.map((e) => [e.variation, e.step, e.total])).toEqual([[0, 1, 8], [0, 2, 8], [0, 3, 8], [0, 4, 8], [1, 5, 8], [1, 6, 8], [1, 7, 8], [1, 8, 8]]);
  const previews = events.filter((e) => e.preview !== undefined).map((e) => e.preview!);
  expect(previews.length).toBeGreaterThanOrEqual(2);
  for (const p of previews) {
    expect(Math.max(p.width, p.height)).toBeLessThanOrEqual(4);
    expect(p.data.length).toBe(p.width * p.height * 4);
  }
  // the same request through the pipeline on the caller's thread (main-thread style preparation)
  const set = await ModelSet.open(paths, { intraOpThreads: 1 });
  try {
    const direct = await new StyleStudioPipeline(set).generate(pipelineRequest({ ...request, seeds: [8] }));
    expect(direct.unetRowEvaluations).toBe(4 * 2 + 2 * 2);
    expect(Buffer.from(images[1]!.image.data).equals(Buffer.from(direct.variations[0]!.image!.data))).toBe(true);
  } finally {
    await set.close();
  }
  expect(Buffer.from(images[0]!.image.data).equals(Buffer.from(images[1]!.image.data))).toBe(false);
});

test('reduceImages: a queued job keeps the encoder\'s crops (style and drop preset), and generates the same images', async () => {
  const square = { ...request, styleResize: 'square512' as const, seeds: [7], variations: 1 };
  const reduced = await engine.reduceImages(square);
  const size = 224; // the tiny image encoder's image_size (its config)
  expect([reduced.style!.width, reduced.style!.height, reduced.negativeStyle!.width, reduced.negativeStyle!.height]).toEqual([size, size, size, size]);
  expect(reduced).toMatchObject({ styleResize: 'none', seeds: [7], prompt: 'A red apple' });
  expect(reduced.drop).toBeUndefined();
  const full = await collect(square, new AbortController().signal, []);
  const small = await collect(reduced, new AbortController().signal, []);
  expect(Buffer.from(small[0]!.image.data).equals(Buffer.from(full[0]!.image.data))).toBe(true);
  // without a style there is nothing to reduce
  const { style: _s, drop: _d, ...plain } = square;
  expect(await engine.reduceImages(plain)).toBe(plain);
});

test('img2img: reduceImages fits the init image to the output size; the engine runs only the steps denoise leaves, as the pipeline does', async () => {
  const init = await decodeImage(fs.readFileSync(fixture('golden', 'init.png')));
  // a 2× larger, wider init: reduced to the job's 64×64 (centre crop + Lanczos) before the job runs
  const big = { width: 160, height: 128, data: new Uint8Array(160 * 128 * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 13) % 251)) };
  const job: GenerationRequest = { ...request, init: big, denoise: 0.5, steps: 4, seeds: [3], variations: 1, teacherSteps: 1 };
  const reduced = await engine.reduceImages(job);
  expect([reduced.init!.width, reduced.init!.height]).toEqual([64, 64]);
  expect(reduced.style!.width).toBe(224);
  const events: StepEvent[] = [];
  const images = await collect(reduced, new AbortController().signal, events);
  expect(events.map((e) => [e.step, e.total])).toEqual([[1, 2], [2, 2]]); // int(4 · 0.5) = 2 steps run
  const set = await ModelSet.open(paths, { intraOpThreads: 1 });
  try {
    const r = await new StyleStudioPipeline(set).generate({ ...pipelineRequest(job), seed: 3 });
    expect(Buffer.from(images[0]!.image.data).equals(Buffer.from(r.variations[0]!.image!.data))).toBe(true);
  } finally {
    await set.close();
  }
  // an init at the output size comes back as it is
  const exact = await engine.reduceImages({ ...job, style: undefined, drop: undefined, init });
  expect(Buffer.from(exact.init!.data).equals(Buffer.from(init.data))).toBe(true);
});

test('abort stops at a step boundary with GenerationAborted; the engine serves the next request', async () => {
  const controller = new AbortController();
  const events: StepEvent[] = [];
  const r = { ...request, seeds: [1], steps: 6 };
  const run = (async () => {
    for await (const _ of engine.generate(r, {
      signal: controller.signal, previewSide: 8,
      onStep: (e) => {
        events.push(e);
        if (e.step === 2) controller.abort();
      },
    })) {
      throw new Error('no image expected');
    }
  })();
  await expect(run).rejects.toBeInstanceOf(GenerationAborted);
  expect(events.map((e) => e.step)).toEqual([1, 2]);
  const again = await collect({ ...request, seeds: [3], steps: 1, teacherSteps: 1 }, new AbortController().signal, []);
  expect(again).toHaveLength(1);
});

test('missing model files: not ready, modelsMissing, the folder named', async () => {
  const missing = path.join(fixture('sdxl-tiny'), 'does-not-exist');
  const e = await OnnxGenerationEngine.open({ paths: { model: missing } });
  const s = e.status();
  expect(s.ready).toBe(false);
  expect(s.modelsMissing).toBe(true);
  expect(s.reason).toContain('does-not-exist');
  await e.close();
});
