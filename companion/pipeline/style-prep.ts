/** prepareStylePixels in a short-lived worker thread (see style-prep-worker.ts). */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { RgbaPixels } from './request';
import type { StylePixels } from './style-pixels';
import type { StylePrepReply, StylePrepTask } from './style-prep-worker';

const WORKER_FILE = path.join(__dirname, 'style-prep-worker.js');

export function prepareStylePixelsInWorker(
  style: RgbaPixels, negative: RgbaPixels | 'colour' | 'texture' | null, imageSize: number, styleResize: 'none' | 'square512',
): Promise<StylePixels> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_FILE);
    let settled = false;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      f();
    };
    worker.once('message', (r: StylePrepReply) => finish(() => (r.ok ? resolve({ style: r.style, negative: r.negative }) : reject(new Error(r.error)))));
    worker.once('error', (e) => finish(() => reject(new Error(`style preparation worker failed: ${e.message}`))));
    worker.once('exit', (code) => finish(() => reject(new Error(`style preparation worker exited (code ${code})`))));
    const task: StylePrepTask = { style, negative, imageSize, styleResize };
    worker.postMessage(task); // copies the pixels: the caller keeps its own
  });
}
