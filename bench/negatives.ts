/**
 * `npm run bench:negatives`: how long deriving SCFG's negative from a reference takes (companion/image/negative-presets.ts)
 * at the sizes a reference arrives in (a panel layer read at its long side, a CLI file as it is), per `drop` element and
 * for a combination. The daemon does it in a worker while the job waits in the queue; the CLI before the first step.
 * Median of STYLESTUDIO_BENCH_RUNS (default 3) runs on a seeded noise image; timings are printed, never asserted.
 */
import * as os from 'node:os';
import { negativeStyleFromPreset } from '../companion/image/negative-presets';
import type { RgbaImage } from '../companion/image/rgba';
import type { DropSpec } from '../protocol';
import { formatTable, median } from './table';

const SIDES = [1024, 2048, 4096];
const SPECS: readonly DropSpec[] = ['colour', 'texture', 'brushwork', 'lighting', ['colour', 'brushwork'], ['colour', 'texture', 'brushwork', 'lighting']];

function noise(side: number): RgbaImage {
  const data = new Uint8Array(side * side * 4);
  let s = 12345;
  for (let i = 0; i < data.length; i++) data[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
  return { width: side, height: side, data };
}

const runs = Number(process.env['STYLESTUDIO_BENCH_RUNS'] ?? 3);
const rows: (string | number)[][] = [];
for (const side of SIDES) {
  const image = noise(side);
  for (const spec of SPECS) {
    const times: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = process.hrtime.bigint();
      negativeStyleFromPreset(image, spec);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    rows.push([`${side}²`, typeof spec === 'string' ? spec : spec.join('+'), median(times).toFixed(0)]);
  }
}
console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}; median of ${runs} runs, one thread`);
console.log(formatTable(['reference', 'drop', 'ms'], rows));
