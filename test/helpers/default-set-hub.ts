/** A FakeHub serving every file of the real default model set, with tiny contents. */
import * as fs from 'node:fs';
import { DEFAULT_MODELS } from '../../companion/weights/default-models';
import { FakeHub, generatedBytes } from './fake-hub';
import { fixture } from './paths';

/** Files of the default set that have a tiny real copy in test/fixtures/server/hub. */
const FIXTURE_COPIES: Record<string, string> = {
  'stabilityai/stable-diffusion-xl-base-1.0/model_index.json': 'sdxl-tiny/model_index.json',
  'stabilityai/stable-diffusion-xl-base-1.0/text_encoder/config.json': 'sdxl-tiny/text_encoder/config.json',
  'stabilityai/stable-diffusion-xl-base-1.0/text_encoder/model.fp16.safetensors': 'sdxl-tiny/text_encoder/model.fp16.safetensors',
  'h94/IP-Adapter/sdxl_models/image_encoder/config.json': 'ip-adapter-tiny/sdxl_models/image_encoder/config.json',
  'h94/IP-Adapter/sdxl_models/image_encoder/model.safetensors': 'ip-adapter-tiny/sdxl_models/image_encoder/model.safetensors',
};

export function defaultSetHub(): FakeHub {
  const repos: Record<string, Record<string, Buffer>> = {};
  for (const spec of DEFAULT_MODELS) {
    const files: Record<string, Buffer> = (repos[spec.repo] ??= {});
    for (const f of spec.files) {
      const copy = FIXTURE_COPIES[`${spec.repo}/${f.path}`];
      files[f.path] = copy ? fs.readFileSync(fixture('server', 'hub', ...copy.split('/'))) : generatedBytes(f.path, 1000 + (f.path.length * 97) % 9000);
    }
  }
  return new FakeHub(repos);
}
