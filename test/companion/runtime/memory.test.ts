import { EngineError } from '../../../companion/runtime/errors';
import {
  admit, defaultBudgetBytes, formatMemoryPlan, GiB, parseBudget, planJobMemory, PROCESS_BASE_BYTES, sessionFootprint,
} from '../../../companion/runtime/memory';

test('parseBudget reads binary sizes and refuses anything else with the option named', () => {
  expect(parseBudget('12')).toBe(12 * GiB);
  expect(parseBudget('12GiB')).toBe(12 * GiB);
  expect(parseBudget('12g')).toBe(12 * GiB);
  expect(parseBudget('9000MiB')).toBe(9000 * 2 ** 20);
  expect(parseBudget('0.5T')).toBe(512 * GiB);
  for (const bad of ['', 'lots', '-3G', '12 potatoes', '1K']) {
    expect(() => parseBudget(bad)).toThrow(EngineError);
  }
  expect(() => parseBudget('lots')).toThrow('--memory-budget "lots": expected a size such as 12GiB or 9000MiB');
});

test('the default budget leaves room for Photoshop on the CPU and assumes an 8 GiB card on a GPU', () => {
  expect(defaultBudgetBytes('cpu', 24 * GiB)).toBe(Math.floor(24 * GiB * 0.6));
  expect(defaultBudgetBytes('cuda', 64 * GiB)).toBe(8 * GiB);
});

test('footprints: fp16 halves weights and activations; the UNet grows with rows and pixels', () => {
  const base = { network: 'unet' as const, weightElements: 1e9, provider: 'cpu' as const, latentPixels: 64 * 64 };
  const fp32 = sessionFootprint({ ...base, precision: 'fp32', rows: 2 });
  const fp16 = sessionFootprint({ ...base, precision: 'fp16', rows: 2 });
  expect(fp16).toBeCloseTo(fp32 / 2, 0);
  expect(sessionFootprint({ ...base, precision: 'fp32', rows: 4 })).toBeGreaterThan(fp32);
});

test('a job plan: phases, peak = largest phase + the process, decode interleaved only when UNet and decoder fit together', () => {
  const f = { textEncoders: 3 * GiB, imageEncoder: 8 * GiB, unet: 11 * GiB, vaeDecoder: 1 * GiB, vaeEncoder: null };
  const roomy = planJobMemory(f, 'cpu', 'fp32', 14 * GiB);
  expect(roomy.peakBytes).toBe(11 * GiB + PROCESS_BASE_BYTES);
  expect(roomy.decodeInterleaved).toBe(true);
  expect(roomy.phases.map((p) => [p.phase, p.bytes])).toEqual([['conditioning', 8 * GiB], ['denoise', 11 * GiB], ['decode', 12 * GiB]]);
  expect(() => admit(roomy)).not.toThrow();
  const tight = planJobMemory(f, 'cpu', 'fp32', 12 * GiB);
  expect(tight.decodeInterleaved).toBe(false);
  expect(() => admit(tight)).not.toThrow();
  const small = planJobMemory(f, 'cpu', 'fp32', 10 * GiB);
  expect(() => admit(small)).toThrow(expect.objectContaining({
    code: 'MEMORY_BUDGET',
    message: 'this job needs 11.5 GiB but the memory budget is 10.0 GiB (largest phase: denoise); use a smaller size, fp16 on a GPU, or raise --memory-budget',
  }));
  expect(formatMemoryPlan(small)).toContain('DOES NOT FIT');
  const plain = planJobMemory({ ...f, imageEncoder: null }, 'cpu', 'fp32', 14 * GiB);
  expect(plain.phases[0]!.networks.map((n) => n.network)).toEqual(['text-encoders']);
});
