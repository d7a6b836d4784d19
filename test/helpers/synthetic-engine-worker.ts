/**
 * Worker thread of the SyntheticTestEngine (tests only). It burns real CPU time per "step" off the
 * main thread, the way onnxruntime's blocking run() will, and draws an image fully determined by
 * the seed so tests can check the pixels that arrive.
 */
import { parentPort } from 'node:worker_threads';
import { syntheticPixel } from './synthetic-image';

export interface RunCommand {
  readonly type: 'run';
  readonly width: number;
  readonly height: number;
  readonly steps: number;
  readonly seeds: readonly number[];
  readonly stepMs: number;
  readonly previewEvery: number;
  readonly previewSide: number;
  /** Fail (throw inside the worker) after this many steps; -1 never. */
  readonly failAfterStep: number;
  /** Int32Array[1]: set to 1 by the main thread to cancel. */
  readonly abortFlag: SharedArrayBuffer;
}

export type WorkerEvent =
  | { type: 'step'; variation: number; step: number; total: number; preview?: { width: number; height: number; data: Uint8Array } }
  | { type: 'image'; index: number; seed: number; rgba: Uint8Array }
  | { type: 'aborted' }
  | { type: 'failed'; message: string }
  | { type: 'end' };

function draw(width: number, height: number, seed: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rgba.set(syntheticPixel(seed, x, y), (y * width + x) * 4);
  }
  return rgba;
}

function busy(ms: number): void {
  const until = Date.now() + ms;
  let x = 0;
  while (Date.now() < until) x = (x * 1103515245 + 12345) >>> 0;
  if (x === 0.5) console.log(x); // keep the loop observable to the optimiser
}

function run(cmd: RunCommand, post: (e: WorkerEvent, transfer?: ArrayBuffer[]) => void): void {
  const abort = new Int32Array(cmd.abortFlag);
  const total = cmd.steps * cmd.seeds.length;
  let done = 0;
  for (let v = 0; v < cmd.seeds.length; v++) {
    const seed = cmd.seeds[v]!;
    for (let s = 0; s < cmd.steps; s++) {
      if (Atomics.load(abort, 0) !== 0) return post({ type: 'aborted' });
      busy(cmd.stepMs);
      done++;
      if (done === cmd.failAfterStep) throw new Error(`synthetic failure after step ${done}`);
      let preview: { width: number; height: number; data: Uint8Array } | undefined;
      if (done % cmd.previewEvery === 0) {
        const scale = Math.max(cmd.width, cmd.height) / Math.min(cmd.previewSide, Math.max(cmd.width, cmd.height));
        const w = Math.max(1, Math.round(cmd.width / scale));
        const h = Math.max(1, Math.round(cmd.height / scale));
        preview = { width: w, height: h, data: draw(w, h, seed) };
      }
      post(preview ? { type: 'step', variation: v, step: done, total, preview } : { type: 'step', variation: v, step: done, total });
    }
    const rgba = draw(cmd.width, cmd.height, seed);
    post({ type: 'image', index: v, seed, rgba }, [rgba.buffer as ArrayBuffer]);
  }
  post({ type: 'end' });
}

parentPort?.on('message', (cmd: RunCommand) => {
  const post = (e: WorkerEvent, transfer?: ArrayBuffer[]): void => parentPort!.postMessage(e, transfer ?? []);
  try {
    run(cmd, post);
  } catch (err) {
    post({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  }
});
