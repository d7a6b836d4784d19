/**
 * The job runner with an engine that reduces images (issue 13.6): a queued job's request is replaced by its reduced
 * form before it runs, reductions run one at a time, and an image the reduction refuses ends the job with BAD_IMAGE.
 * The engine here is a stand-in recording what the runner hands it; the reduction itself is tested on the real
 * engine in test/companion/engine/onnx-engine.test.ts.
 */
import type { ServerMessage } from '../../../protocol';
import type { GeneratedImage, GenerationEngine, GenerationRequest } from '../../../companion/engine/engine';
import { ImageError, type RgbaImage } from '../../../companion/image/rgba';
import { type Job, JobRunner } from '../../../companion/server/jobs';
import { JobQueue } from '../../../companion/server/queue';

const image = (side: number): RgbaImage => ({ width: side, height: side, data: new Uint8Array(side * side * 4) });

class RecordingEngine implements GenerationEngine {
  readonly generated: GenerationRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;
  status() {
    return { ready: true, provider: 'cpu', providers: ['cpu'] };
  }
  async reduceImages(request: GenerationRequest): Promise<GenerationRequest> {
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    await new Promise((r) => setTimeout(r, 20));
    this.inFlight--;
    if (request.prompt === 'broken') throw new ImageError('style image: 3 bytes for 2×2 pixels');
    return { ...request, style: image(4), styleResize: 'none' };
  }
  async *generate(request: GenerationRequest): AsyncIterable<GeneratedImage> {
    this.generated.push(request);
    for (const [index, seed] of request.seeds.entries()) yield { index, seed, image: image(request.width) };
  }
  async close() {}
}

function job(id: string, prompt: string, messages: ServerMessage[]): Job {
  const request: GenerationRequest = {
    prompt, style: image(512), crossModalAdain: true, adainStrength: 1, scale: 1, teacherSteps: 1, guidance: 5, steps: 1,
    seeds: [1], variations: 1, width: 8, height: 8, styleLayers: { kind: 'adapter-default' }, styleResize: 'square512',
  };
  return {
    id, clientId: 1, requestId: id, request, abort: new AbortController(), step: 0, total: 1,
    sink: { connected: true, send: (m) => messages.push(m), sendImage: (_k, _i, announce) => messages.push(announce(1)) },
  };
}

test('queued jobs run on their reduced requests; reductions one at a time; a refused image ends its job with BAD_IMAGE', async () => {
  const engine = new RecordingEngine();
  const runner = new JobRunner(new JobQueue<Job>(10, 10), () => engine, 16);
  const messages: ServerMessage[] = [];
  for (const [id, prompt] of [['a', 'one'], ['b', 'broken'], ['c', 'three']] as const) runner.submit(job(id, prompt, messages), () => undefined);
  while (messages.filter((m) => m.type === 'done' || m.type === 'error').length < 3) {
    await new Promise((r) => setTimeout(r, 10));
    await runner.idle();
  }
  expect(engine.generated.map((r) => [r.prompt, r.style!.width, r.styleResize])).toEqual([['one', 4, 'none'], ['three', 4, 'none']]);
  expect(engine.maxInFlight).toBe(1);
  expect(messages.filter((m) => m.type === 'error')).toEqual([
    { type: 'error', code: 'BAD_IMAGE', jobId: 'b', message: 'the style image cannot be used: style image: 3 bytes for 2×2 pixels' },
  ]);
  expect(messages.filter((m) => m.type === 'done').map((m) => m.type === 'done' && [m.jobId, m.outcome])).toEqual([['a', 'completed'], ['c', 'completed']]);
});
