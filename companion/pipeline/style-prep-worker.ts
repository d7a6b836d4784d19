/**
 * Worker thread for the style image's CPU work (drop preset, Pillow-exact resize, CLIP normalisation): a
 * multi-megapixel style image would otherwise block the daemon's event loop for a noticeable time.
 */
import { parentPort } from 'node:worker_threads';
import { prepareStylePixels } from './style-pixels';

export interface StylePrepTask {
  readonly style: { width: number; height: number; data: Uint8Array };
  readonly negative: { width: number; height: number; data: Uint8Array } | 'colour' | 'texture' | null;
  readonly imageSize: number;
  readonly styleResize: 'none' | 'square512';
}

export type StylePrepReply =
  | { readonly ok: true; readonly style: Float32Array; readonly negative: Float32Array | null }
  | { readonly ok: false; readonly error: string };

parentPort?.once('message', (task: StylePrepTask) => {
  try {
    const r = prepareStylePixels(task.style, task.negative, task.imageSize, task.styleResize);
    const transfer = [r.style.buffer, ...(r.negative ? [r.negative.buffer] : [])] as ArrayBuffer[];
    parentPort!.postMessage({ ok: true, style: r.style, negative: r.negative } satisfies StylePrepReply, transfer);
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: (e as Error).message } satisfies StylePrepReply);
  }
});
