#!/usr/bin/env node
import { Command } from 'commander';
import { registerDoctorCommand } from './doctor/doctor-command';
import { registerServeCommand } from './server/serve-command';
import { registerModelsCommand } from './weights/models-command';

/** `stylestudio serve | generate | models | doctor | encode`: each subcommand lives beside the code it drives. */
const program = new Command()
  .name('stylestudio')
  .description('StyleStudio companion: local style-transfer engine for the Photoshop panel');

registerServeCommand(program);
registerModelsCommand(program);
registerDoctorCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`stylestudio: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
