/**
 * A single-file checkpoint with the real SDXL base layout (every name and shape of the published files, from the
 * realshape manifests, renamed by the test's inverse mapping; a sparse file, so no data is written) opened with the
 * built-in sdxl-base configs: the UNet and VAE decoder graphs build and read every tensor, both text encoder graphs
 * build with nothing left unread. No session is created: this is about the mapping at full size.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { PORTABLE_FP32 } from '../../../companion/onnx/lowering';
import { buildClipTextGraph, openClipText } from '../../../companion/models/clip-text';
import { buildGraph } from '../../../companion/runtime/graph-build';
import { builtinConfigDir, openSingleFileModel } from '../../../companion/weights/single-file';
import { repoRoot } from '../../helpers/paths';
import { openClipKey, unetOriginalKey, vaeOriginalKey } from './ldm-checkpoint-writer';
import { safetensorsBytes, tempDir } from './safetensors-writer';

const BYTES: Record<string, number> = { F16: 2, F32: 4, I64: 8 };

function manifest(repo: string, file: string): [string, number[], string][] {
  const gz = path.join(repoRoot, 'tools', 'realshape', 'manifests', repo, `${file}.json.gz`);
  return (JSON.parse(zlib.gunzipSync(fs.readFileSync(gz)).toString('utf8')) as { tensors: [string, number[], string][] }).tensors;
}

/** The original-layout header of SDXL base (UNet, both text encoders; the VAE in the fp16-fix layout = base layout). */
function originalLayout(): [string, number[], string][] {
  const base = 'stabilityai--stable-diffusion-xl-base-1.0';
  const out: [string, number[], string][] = [];
  const shape = { layersPerBlock: 2, attentionUp: [true, true, false] };
  for (const [k, s, d] of manifest(base, 'unet/diffusion_pytorch_model.fp16.safetensors')) out.push([`model.diffusion_model.${unetOriginalKey(k, shape)}`, s, d]);
  for (const [k, s, d] of manifest('madebyollin--sdxl-vae-fp16-fix', 'diffusion_pytorch_model.safetensors')) {
    const o = vaeOriginalKey(k, 4);
    out.push([`first_stage_model.${o.key}`, o.conv1x1 ? [...s, 1, 1] : s, d]);
  }
  for (const [k, s, d] of manifest(base, 'text_encoder/model.fp16.safetensors')) out.push([`conditioner.embedders.0.transformer.${k}`, s, d]);
  const te2 = manifest(base, 'text_encoder_2/model.fp16.safetensors');
  const p = 'conditioner.embedders.1.model.';
  for (const [k, s, d] of te2) {
    const packed = /^text_model\.encoder\.layers\.(\d+)\.self_attn\.(q|k|v)_proj\.(weight|bias)$/.exec(k);
    if (packed !== null) {
      if (packed[2] === 'q') out.push([`${p}transformer.resblocks.${packed[1]}.attn.in_proj_${packed[3]}`, [3 * s[0]!, ...s.slice(1)], d]);
    } else if (k === 'text_projection.weight') {
      out.push([`${p}text_projection`, [s[1]!, s[0]!], d]);
    } else {
      out.push([p + openClipKey(k), s, d]);
    }
  }
  out.push([`${p}logit_scale`, [], 'F32']);
  return out;
}

let dir: string;
let file: string;
beforeAll(() => {
  dir = tempDir('realshape-ckpt');
  file = path.join(dir, 'sd_xl_base_layout.safetensors');
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [key, shape, dtype] of originalLayout()) {
    const length = shape.reduce((a, b) => a * b, 1) * BYTES[dtype]!;
    header[key] = { dtype, shape, data_offsets: [offset, offset + length] };
    offset += length;
  }
  const head = safetensorsBytes(JSON.stringify(header), Buffer.alloc(0));
  fs.writeFileSync(file, head);
  fs.truncateSync(file, head.length + offset); // sparse: ~6.9 GB that take no disk
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('every network of the real layout maps and builds, reading every tensor', () => {
  const model = openSingleFileModel(file, { configDir: builtinConfigDir('sdxl-base') });
  const unet = model.component('unet');
  const pooledDim = model.component('text_encoder_2').config()['projection_dim'] as number;
  const t0 = performance.now();
  // buildGraph asserts every UNet tensor was read (store.assertAllRead)
  const unetModel = buildGraph({
    kind: 'unet', lowering: PORTABLE_FP32, configFile: unet.configFile, weights: unet.weights().source, adapterFile: null,
    style: { preset: 'none' }, teacherShare: false, rows: 2, latentHeight: 128, latentWidth: 128, pooledDim,
  });
  const vae = model.component('vae');
  buildGraph({ kind: 'vae-decoder', lowering: PORTABLE_FP32, configFile: vae.configFile, weights: vae.weights().source, latentHeight: 128, latentWidth: 128 });
  for (const name of ['text_encoder', 'text_encoder_2'] as const) {
    const built = buildClipTextGraph(openClipText(model.component(name)), { lowering: PORTABLE_FP32, hiddenStates: [-2], final: true, projection: name === 'text_encoder_2' });
    expect([name, built.unreadKeys]).toEqual([name, []]);
  }
  console.log(`real-layout checkpoint: ${unet.weights().open().keys().length} UNet tensors, graphs built in ${(performance.now() - t0).toFixed(0)} ms, UNet model ${unetModel.bytes.length} bytes`);
  expect(unet.weights().open().keys()).toHaveLength(1680);
}, 120_000);
