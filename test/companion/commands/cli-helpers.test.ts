/** Small pieces of the generate command: output naming for variations, the embedding summary, the progress bar. */
import { Writable } from 'node:stream';
import { tensorSummary, variationPath } from '../../../companion/commands/generate-command';
import { ProgressBar } from '../../../companion/commands/progress-bar';

test('variation file names: OUT.png for one, OUT-k.png for several, extension kept last', () => {
  expect(variationPath('/a/b/out.png', 0, 1)).toBe('/a/b/out.png');
  expect(variationPath('/a/b/out.png', 2, 3)).toBe('/a/b/out-2.png');
  expect(variationPath('lat.v1.npy', 0, 2)).toBe('lat.v1-0.npy');
});

test('tensor summary: shape, statistics and a digest that changes with any value', () => {
  const a = tensorSummary('x', [1, 4], new Float32Array([1, 2, 3, 4]));
  expect(a).toMatch(/^x \[1, 4\] mean=2\.50000 std=1\.11803 min=1\.00000 max=4\.00000 l2=5\.47723 sha256=[0-9a-f]{16}$/);
  const b = tensorSummary('x', [1, 4], new Float32Array([1, 2, 3, 4.000001]));
  expect(b.slice(-16)).not.toBe(a.slice(-16));
});

test('progress bar without a terminal: the first step, then one line per 10 %, ending at 100 %', () => {
  const lines: string[] = [];
  const stream = Object.assign(new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } }), { isTTY: false });
  const bar = new ProgressBar(20, stream as unknown as NodeJS.WriteStream);
  for (let i = 1; i <= 20; i++) bar.update(i);
  expect(lines).toHaveLength(11);
  expect(lines[10]).toMatch(/^\[#{30}\] 20\/20 100%/);
});
