/** One small StyleStudio job on the tiny models (the golden style image, 64², 2 steps): "does this engine generate?". */
import * as fs from 'node:fs';
import type { GeneratedImage, GenerationEngine } from '../../companion/engine/engine';
import { decodeImage } from '../../companion/image/rgba';
import { fixture } from './paths';

export async function generateTinyJob(engine: GenerationEngine): Promise<GeneratedImage[]> {
  const style = await decodeImage(fs.readFileSync(fixture('golden', 'style.png')));
  const images: GeneratedImage[] = [];
  for await (const img of engine.generate({
    prompt: 'A red apple', style, crossModalAdain: true, adainStrength: 1, scale: 1, teacherSteps: 1,
    guidance: 5, steps: 2, seeds: [1], variations: 1, width: 64, height: 64, scheduler: 'euler', styleLayers: { kind: 'adapter-default' }, styleResize: 'none',
  }, { signal: new AbortController().signal, previewSide: 16, onStep: () => undefined })) images.push(img);
  return images;
}
