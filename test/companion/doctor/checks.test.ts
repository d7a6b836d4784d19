import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  checkGpuSelfTests,
  checkCuda, checkMemory, checkModels, checkNode, checkProviders, checkToken, CUDA_LIBRARIES, findLibraries, formatResult,
} from '../../../companion/doctor/checks';
import { fixture } from '../../helpers/paths';
import { writeTinyDefaultSet } from '../../helpers/tiny-model-set';

const GB = 1024 ** 3;

test('node: 20+ ok, older fails with the fix', () => {
  expect(checkNode('20.1.0').status).toBe('ok');
  expect(checkNode('18.19.0')).toMatchObject({ status: 'fail', fix: 'install Node.js 20 or newer' });
});

test('memory thresholds', () => {
  expect(checkMemory(32 * GB, 20 * GB).status).toBe('ok');
  expect(checkMemory(32 * GB, 2 * GB).status).toBe('warn');
  expect(checkMemory(4 * GB, 2 * GB).status).toBe('fail');
});

test('providers: without a probe a warning says so; probes become one line each', () => {
  expect(checkProviders(undefined)).toEqual([expect.objectContaining({ status: 'warn', label: 'providers' })]);
  expect(checkProviders([{ name: 'cpu', works: true, detail: 'ran' }, { name: 'cuda', works: false, detail: 'libcudnn missing' }]).map((r) => r.status)).toEqual(['ok', 'warn']);
});

describe('CUDA libraries', () => {
  const ldconfig = (names: readonly string[]) => names.map((n) => `\t${n} (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/${n}`).join('\n');
  const env = { LD_LIBRARY_PATH: '' };

  test('found through the ldconfig cache or LD_LIBRARY_PATH', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-libs-'));
    fs.writeFileSync(path.join(dir, 'libcudnn.so.9'), '');
    const found = findLibraries(['libcudart.so.12', 'libcudnn.so.9', 'libcufft.so.11'], { LD_LIBRARY_PATH: dir }, ldconfig(['libcudart.so.12']), []);
    expect(found.get('libcudart.so.12')).toBe('/usr/lib/x86_64-linux-gnu/libcudart.so.12');
    expect(found.get('libcudnn.so.9')).toBe(path.join(dir, 'libcudnn.so.9'));
    expect(found.get('libcufft.so.11')).toBeUndefined();
    fs.rmSync(dir, { recursive: true });
  });

  test('no driver: a warning that the CPU will be used', () => {
    expect(checkCuda('linux', env, '', [])).toEqual([expect.objectContaining({ status: 'warn', label: 'cuda' })]);
  });

  test('driver present, cuDNN missing: fail naming the library, with the fix', () => {
    const results = checkCuda('linux', env, ldconfig(['libcuda.so.1', ...CUDA_LIBRARIES.filter((n) => n !== 'libcudnn.so.9')]), []);
    const libs = results.find((r) => r.label === 'cuda libraries')!;
    expect(libs.status).toBe('fail');
    expect(libs.detail).toBe('missing libcudnn.so.9');
    expect(libs.fix).toContain('cuDNN 9');
  });

  test('everything present: ok', () => {
    const results = checkCuda('linux', env, ldconfig(['libcuda.so.1', ...CUDA_LIBRARIES]), []);
    expect(results.find((r) => r.label === 'cuda libraries')?.status).toBe('ok');
  });

  test('other platforms name their own GPU path', () => {
    expect(checkCuda('win32')[0]?.detail).toContain('DirectML');
    expect(checkCuda('darwin')[0]?.detail).toContain('CoreML');
  });
});

test('token: missing warns, loose mode warns, 0600 ok', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-tok-'));
  const file = path.join(dir, 'token');
  expect(checkToken(file).status).toBe('warn');
  fs.writeFileSync(file, 'x', { mode: 0o644 });
  fs.chmodSync(file, 0o644);
  expect(checkToken(file).fix).toContain('chmod 600');
  fs.chmodSync(file, 0o600);
  expect(checkToken(file)).toEqual({ status: 'ok', label: 'token', detail: file });
  fs.rmSync(dir, { recursive: true });
});

test('formatResult: a tag, the label, the detail, and the fix on its own line', () => {
  expect(formatResult({ status: 'fail', label: 'node', detail: 'v18', fix: 'upgrade' })).toBe(`[FAIL] ${'node'.padEnd(24)} v18\n       ${''.padEnd(24)} fix: upgrade`);
});

describe('checkGpuSelfTests (doctor --gpu)', () => {
  const base = { lowering: { kind: 'fused', precision: 'fp16' }, bound: 0.03, msPerStep: 12.34 };
  it('one line per check: pass with error, node counts and time; a failure with its code; unavailable as a warning', () => {
    const lines = checkGpuSelfTests([
      { ...base, provider: 'webgpu', passed: true, maxRel: 2.7e-3, nodesByProvider: { WebGpuExecutionProvider: 104 } },
      { ...base, provider: 'webgpu', passed: false, maxRel: Infinity, nodesByProvider: {}, code: 'CPU_FALLBACK', reason: 'some nodes have no webgpu kernel' },
      { ...base, provider: 'cuda', passed: false, maxRel: Infinity, nodesByProvider: {}, code: 'PROVIDER_UNAVAILABLE', reason: 'no libcudart' },
    ]);
    expect(lines.map((l) => l.status)).toEqual(['ok', 'fail', 'warn']);
    expect(lines[0]!.label).toBe('gpu webgpu fused fp16');
    expect(lines[0]!.detail).toBe('pass: max rel 2.7e-3 vs CPU (bound 0.03), 104 nodes on WebGpuExecutionProvider, 12.3 ms/step');
    expect(lines[1]!.detail).toMatch(/^CPU_FALLBACK: /);
  });
  it('no GPU provider at all is one warning', () => {
    expect(checkGpuSelfTests([]).map((l) => l.status)).toEqual(['warn']);
  });
});

describe('models: the default set as the engine opens it', () => {
  test('the tiny default set: every model present and every weight file reads, with the fp16-fix VAE in place', () => {
    const hub = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-doctor-'));
    try {
      writeTinyDefaultSet(hub);
      const results = checkModels(hub);
      expect(results.map((r) => [r.label, r.status])).toEqual([
        ['model sdxl-base', 'ok'], ['model sdxl-vae-fp16-fix', 'ok'], ['model csgo-adapter', 'ok'], ['model image-encoder', 'ok'], ['model files', 'ok'],
      ]);
    } finally {
      fs.rmSync(hub, { recursive: true, force: true });
    }
  });

  test('a truncated weight file fails with the file named and the fix', () => {
    const hub = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-doctor-'));
    try {
      const snapshots = writeTinyDefaultSet(hub);
      // replace the UNet's symlinked weights with a truncated copy
      const unet = path.join(snapshots['sdxl-base']!, 'unet');
      fs.rmSync(unet);
      fs.mkdirSync(unet);
      for (const f of fs.readdirSync(fixture('sdxl-tiny', 'unet'))) fs.copyFileSync(fixture('sdxl-tiny', 'unet', f), path.join(unet, f));
      const file = path.join(unet, 'diffusion_pytorch_model.fp16.safetensors');
      fs.truncateSync(file, 1000);
      const last = checkModels(hub).at(-1)!;
      expect(last).toMatchObject({ label: 'model files', status: 'fail', fix: 'delete the file named and run `stylestudio models pull`' });
      expect(last.detail).toContain('diffusion_pytorch_model.fp16.safetensors');
    } finally {
      fs.rmSync(hub, { recursive: true, force: true });
    }
  });
});
