/** prepareStylePixels in a short-lived worker thread (see style-prep-worker.ts). */
import * as path from 'node:path';
import type { RgbaImage } from '../image/rgba';
import type { StylePixels } from './style-pixels';
import type { StylePrepReply, StylePrepTask } from './style-prep-worker';
import { runWorkerTask } from '../runtime/worker-task';

const WORKER_FILE = path.join(__dirname, 'style-prep-worker.js');

export function prepareStylePixelsInWorker(
  style: RgbaImage, negative: RgbaImage | 'colour' | 'texture' | null, imageSize: number, styleResize: 'none' | 'square512',
): Promise<StylePixels> {
  // postMessage copies the pixels: the caller keeps its own.
  const task: StylePrepTask = { style, negative, imageSize, styleResize };
  return runWorkerTask<StylePrepTask, StylePrepReply, StylePixels>(WORKER_FILE, task, 'style preparation', (r) => {
    if (!r.ok) throw new Error(r.error);
    return { style: r.style, negative: r.negative };
  });
}
