#!/usr/bin/env node
import { Command } from 'commander';
import { registerDoctorCommand } from './commands/doctor-command';
import { registerEvalCommand } from './commands/eval-command';
import { registerSweepCommand } from './commands/sweep-command';
import { registerPipelineCommands } from './commands/generate-command';
import { registerServeCommand } from './commands/serve-command';
import { registerTokenCommand } from './commands/token-command';
import { registerModelsCommand } from './commands/models-command';
import { registerPresetsCommand } from './commands/presets-command';
import { exitWithParent, needsAllocatorRestart, rerunWithAllocator } from './runtime/allocator';

/** `stylestudio serve | token | generate | models | presets | doctor | encode | eval | sweep`: each subcommand lives beside the code it drives. */
const program = new Command()
  .name('stylestudio')
  .description('StyleStudio companion: local style-transfer engine for the Photoshop panel');

registerServeCommand(program);
registerTokenCommand(program);
registerModelsCommand(program);
registerDoctorCommand(program, async () => {
  const { availableProviders } = await import('./onnx/session');
  return (await availableProviders()).map((r) => ({
    name: r.provider,
    works: r.available,
    detail: r.available ? 'a test session runs' : (r.reason ?? 'unavailable'),
  }));
});
registerPipelineCommands(program);
registerPresetsCommand(program);
registerEvalCommand(program);
registerSweepCommand(program);

if (needsAllocatorRestart()) {
  void rerunWithAllocator().then((code) => { process.exitCode = code; });
} else {
  exitWithParent();
  program.parseAsync(process.argv).catch((err: unknown) => {
    // One line, whatever the error carried (config errors list their problems on several lines).
    const message = err instanceof Error ? err.message : String(err);
    console.error(`stylestudio: ${message.split('\n').map((l) => l.trim()).filter((l) => l !== '').join('; ')}`);
    process.exitCode = 1;
  });
}
