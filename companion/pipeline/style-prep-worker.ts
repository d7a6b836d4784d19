/**
 * Worker thread for the images' CPU work (the style's drop preset, Pillow-exact resize, CLIP normalisation or the
 * reduction to the encoder's crop; the init image's fitting to the output size): a multi-megapixel image would
 * otherwise block the daemon's event loop for a noticeable time.
 */
import { parentPort } from 'node:worker_threads';
import { CodedError, type DropSpec } from '../../protocol';
import { prepareStylePixels, reduceStyleImages } from './style-pixels';
import { fitInitImage } from '../image/init-image';

type Pixels = { width: number; height: number; data: Uint8Array };

/** The init image fitted to the output size (init-image.ts). */
export interface InitFitTask {
  readonly mode: 'init';
  readonly init: Pixels;
  readonly width: number;
  readonly height: number;
}

export interface StylePrepTask {
  /** pixels: CLIP pixel values; reduce: the images cut down to the encoder's crop (style-pixels.ts). */
  readonly mode: 'pixels' | 'reduce';
  readonly style: Pixels;
  readonly negative: Pixels | DropSpec | null;
  readonly imageSize: number;
  readonly styleResize: 'none' | 'square512';
}

export type StylePrepReply =
  | { readonly ok: true; readonly mode: 'pixels'; readonly style: Float32Array; readonly negative: Float32Array | null }
  | { readonly ok: true; readonly mode: 'reduce'; readonly style: Pixels; readonly negative: Pixels | null }
  | { readonly ok: true; readonly mode: 'init'; readonly init: Pixels }
  | { readonly ok: false; readonly code: string | null; readonly error: string };

parentPort?.once('message', (task: StylePrepTask | InitFitTask) => {
  try {
    if (task.mode === 'init') {
      const init = fitInitImage(task.init, task.width, task.height);
      // a fitted image is new; one already at the size comes back as it was sent (a copy on this side)
      parentPort!.postMessage({ ok: true, mode: 'init', init } satisfies StylePrepReply, init.data.buffer === task.init.data.buffer ? [] : [init.data.buffer as ArrayBuffer]);
      return;
    }
    if (task.mode === 'reduce') {
      const r = reduceStyleImages(task.style, task.negative, task.imageSize, task.styleResize);
      const transfer = [r.style.data.buffer, ...(r.negative ? [r.negative.data.buffer] : [])] as ArrayBuffer[];
      parentPort!.postMessage({ ok: true, mode: 'reduce', style: r.style, negative: r.negative } satisfies StylePrepReply, transfer);
      return;
    }
    const r = prepareStylePixels(task.style, task.negative, task.imageSize, task.styleResize);
    const transfer = [r.style.buffer, ...(r.negative ? [r.negative.buffer] : [])] as ArrayBuffer[];
    parentPort!.postMessage({ ok: true, mode: 'pixels', style: r.style, negative: r.negative } satisfies StylePrepReply, transfer);
  } catch (e) {
    parentPort!.postMessage({ ok: false, code: e instanceof CodedError ? e.code : null, error: (e as Error).message } satisfies StylePrepReply);
  }
});
