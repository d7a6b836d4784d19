/** prepareStylePixels, reduceStyleImages and fitInitImage in a short-lived worker thread (see style-prep-worker.ts). */
import * as path from 'node:path';
import type { DropSpec } from '../../protocol';
import { ImageError, type RgbaImage } from '../image/rgba';
import type { ReducedStyleImages, StylePixels } from './style-pixels';
import type { InitFitTask, StylePrepReply, StylePrepTask } from './style-prep-worker';
import { runWorkerTask } from '../runtime/worker-task';

const WORKER_FILE = path.join(__dirname, 'style-prep-worker.js');

type Negative = RgbaImage | DropSpec | null;

function failed(r: Extract<StylePrepReply, { ok: false }>): Error {
  // the worker's image errors keep their code (BAD_IMAGE) on this side
  return r.code === 'BAD_IMAGE' ? new ImageError(r.error) : new Error(r.error);
}

export function prepareStylePixelsInWorker(style: RgbaImage, negative: Negative, imageSize: number, styleResize: 'none' | 'square512'): Promise<StylePixels> {
  // postMessage copies the pixels: the caller keeps its own.
  const task: StylePrepTask = { mode: 'pixels', style, negative, imageSize, styleResize };
  return runWorkerTask<StylePrepTask, StylePrepReply, StylePixels>(WORKER_FILE, task, 'style preparation', (r) => {
    if (!r.ok) throw failed(r);
    if (r.mode !== 'pixels') throw new Error('style preparation: wrong reply');
    return { style: r.style, negative: r.negative };
  });
}

export function reduceStyleImagesInWorker(style: RgbaImage, negative: Negative, imageSize: number, styleResize: 'none' | 'square512'): Promise<ReducedStyleImages> {
  const task: StylePrepTask = { mode: 'reduce', style, negative, imageSize, styleResize };
  return runWorkerTask<StylePrepTask, StylePrepReply, ReducedStyleImages>(WORKER_FILE, task, 'style reduction', (r) => {
    if (!r.ok) throw failed(r);
    if (r.mode !== 'reduce') throw new Error('style reduction: wrong reply');
    return { style: r.style, negative: r.negative };
  });
}

export function fitInitImageInWorker(init: RgbaImage, width: number, height: number): Promise<RgbaImage> {
  const task: InitFitTask = { mode: 'init', init, width, height };
  return runWorkerTask<InitFitTask, StylePrepReply, RgbaImage>(WORKER_FILE, task, 'init image fitting', (r) => {
    if (!r.ok) throw failed(r);
    if (r.mode !== 'init') throw new Error('init image fitting: wrong reply');
    return r.init;
  });
}
