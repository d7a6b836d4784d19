/** Graphs built in the worker thread are the very bytes built on the caller's thread; failures keep their message. */
import * as path from 'node:path';
import { buildGraph, buildGraphInWorker, type GraphSpec } from '../../../companion/runtime/graph-build';
import { PORTABLE_FP32 } from '../../../companion/onnx/lowering';
import { fixture } from '../../helpers/paths';

const unet: GraphSpec = {
  kind: 'unet', lowering: PORTABLE_FP32, configFile: fixture('sdxl-tiny', 'unet', 'config.json'),
  weights: fixture('sdxl-tiny', 'unet', 'diffusion_pytorch_model.safetensors'),
  adapterFile: fixture('ip-adapter-tiny', 'sdxl_models', 'ip-adapter_sdxl.safetensors'),
  style: { preset: 'instantstyle' }, teacherShare: true, rows: 4, latentHeight: 8, latentWidth: 8, pooledDim: 48,
};

test('UNet with style layers and teacher sharing: identical ModelProto bytes from the worker', async () => {
  const here = buildGraph(unet);
  const there = await buildGraphInWorker(unet);
  expect(there.folder).toBe(here.folder);
  expect(Buffer.from(there.bytes).equals(Buffer.from(here.bytes))).toBe(true);
});

test('a missing weight file: the worker\'s error names it', async () => {
  const missing = path.join(fixture('sdxl-tiny'), 'vae', 'nope.safetensors');
  await expect(buildGraphInWorker({
    kind: 'vae-decoder', lowering: PORTABLE_FP32, configFile: fixture('sdxl-tiny', 'vae', 'config.json'), weights: missing, latentHeight: 8, latentWidth: 8,
  })).rejects.toThrow(/nope\.safetensors/);
});
