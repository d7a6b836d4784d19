#!/usr/bin/env node
import { Command } from 'commander';

/** `stylestudio serve | generate | models | doctor | encode`: each subcommand lives beside the code it drives. */
const program = new Command()
  .name('stylestudio')
  .description('StyleStudio companion: local style-transfer engine for the Photoshop panel');

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`stylestudio: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
