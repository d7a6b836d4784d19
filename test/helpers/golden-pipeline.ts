/**
 * What the diffusers pipeline goldens (tools/golden/pipeline.py, img2img.py, inpaint.py) share: the tiny SDXL set with
 * the h94 IP-Adapter on the CPU, one thread; their input images; and the request they were all made with.
 */
import * as fs from 'node:fs';
import { decodeImage, type RgbaImage } from '../../companion/image/rgba';
import { DEFAULTS } from '../../companion/pipeline/request';
import type { PipelineRequest } from '../../companion/pipeline/stylestudio-pipeline';
import { ModelSet } from '../../companion/runtime/model-set';
import { fixture } from './paths';

const ipAdapter = (...p: string[]) => fixture('ip-adapter-tiny', 'sdxl_models', ...p);

/** The tiny SDXL set with the h94 IP-Adapter and its image encoder, CPU, one thread. */
export function openGoldenModelSet(): Promise<ModelSet> {
  return ModelSet.open({ model: fixture('sdxl-tiny'), adapter: ipAdapter('ip-adapter_sdxl.safetensors'), imageEncoder: ipAdapter('image_encoder') },
    { provider: 'cpu', intraOpThreads: 1 });
}

/** A golden input image: init.png, mask.png, style.png, neg_style.png. */
export async function goldenImage(name: string): Promise<RgbaImage> {
  return decodeImage(fs.readFileSync(fixture('golden', name)));
}

/** "A red apple", guidance 5, one 64² image, plain SDXL (no AdaIN, scale 1, no teacher): the goldens' settings. */
export const GOLDEN_REQUEST = {
  prompt: 'A red apple', guidance: 5, variations: 1, width: 64, height: 64,
  crossModalAdain: false, adainStrength: DEFAULTS.adainStrength, scale: 1, styleLayers: { kind: 'adapter-default' },
  styleResize: 'none', teacherSteps: null,
} as const satisfies Partial<PipelineRequest>;
