/** `npm run bench`: runs the benchmark suites and prints one table each. Options are passed to every suite. */
import { benchSdxlUNet, parseBenchArgs } from './unet';

async function main(): Promise<void> {
  const options = parseBenchArgs(process.argv.slice(2));
  const rows = await benchSdxlUNet(options);
  console.log('\nSDXL UNet (random weights) on CPU');
  const width = Math.max(...Object.keys(rows).map((k) => k.length));
  for (const [k, v] of Object.entries(rows)) console.log(`  ${k.padEnd(width)}  ${v}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
