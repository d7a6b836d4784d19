/** `stylestudio presets save | list | show | delete`: the style presets `generate --style-preset` and the panel apply. */
import type { Command } from 'commander';
import { DROP_ELEMENTS, dropElements, referencesProblem, type PresetEntry, type StylePreset } from '../../protocol';
import { presetsDir, PresetStore } from '../presets/store';
import { configDir } from '../server/token';
import { type PresetCliOptions, presetFromOptions } from './preset-options';

function store(): PresetStore {
  return new PresetStore(presetsDir(configDir()));
}

/** One line: what the preset fixes. */
export function describePreset(p: StylePreset): string {
  const s = p.settings;
  const strength = s.strength !== undefined ? `strength ${s.strength}`
    : s.scale !== undefined || s.adainStrength !== undefined ? `scale ${s.scale ?? 1}, AdaIN blend ${s.adainStrength ?? 1}` : 'default strength';
  const problem = referencesProblem(p.references);
  const elements = p.elements.kind === 'drop' ? `drop ${dropElements(p.elements.preset).join(', ')}` : p.elements.kind === 'image' ? 'negative style image' : 'no negative style';
  const seed = p.seed.kind === 'fixed' ? `seed ${p.seed.seed}` : 'random seed';
  const made = [p.madeWith.modelSet, p.madeWith.adapter].filter((x) => x !== undefined).join(', ');
  return [...(problem !== null ? [`not applicable: ${problem}`] : []), strength, s.crossModalAdain ? 'AdaIN on' : 'AdaIN off', elements, seed, `${s.steps} steps`, `guidance ${s.guidance}`,
    `${s.width}×${s.height}`, ...(made !== '' ? [`made with ${made}`] : [])].join(', ');
}

function listLine(e: PresetEntry): string {
  return e.preset !== undefined ? `${e.name}  ${describePreset(e.preset)}` : `${e.name}  unreadable: ${e.problem ?? 'unknown problem'}`;
}

export function registerPresetsCommand(program: Command): void {
  const presets = program.command('presets').description('save, list, show and delete style presets (kept in the config dir, shared with the panel)');
  presets.command('save <name>')
    .description('save a reference image, style elements and settings as a preset for `generate --style-preset NAME`')
    .option('--style <img>', 'a reference image (a PNG copy is kept in the preset); repeat for several', (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
    .option('--style-weights <w,w,…>', 'one weight 0..1 per --style (default all 1)')
    .option('--negative-style <img>', 'negative style image (copied in too)')
    .option('--drop <elements>', `leave elements of the reference out (${DROP_ELEMENTS.join(', ')}; several comma-separated): SCFG's negative derived from it`)
    .option('--strength <s>', 'one style strength 0..1')
    .option('--scale <x>', 'adapter scale (instead of --strength)')
    .option('--adain-strength <a>', 'AdaIN blend 0..1 (instead of --strength)')
    .option('--no-adain', 'IP-Adapter weighted sum instead of cross-modal AdaIN')
    .option('--style-layers <spec>', 'all | up_blocks | NAME[,NAME…]')
    .option('--style-resize <mode>', 'none | square512')
    .option('--teacher-steps <t>', 'steps with the teacher')
    .option('--no-teacher', 'switch the teacher model off')
    .option('--guidance <g>', 'CFG scale (default 5)')
    .option('--steps <n>', 'denoising steps (default 50)')
    .option('--variations <k>', 'images per prompt')
    .option('--width <w>', 'width (default 1024)')
    .option('--height <h>', 'height (default 1024)')
    .option('--scheduler <name>', 'scheduler (default: the model folder\'s)')
    .option('--seed <s>', 'every prompt uses this seed (a consistent series); without it each draws a random seed')
    .option('--negative-prompt <text>', 'negative prompt')
    .option('--prompt-prefix <text>', 'text put before every prompt')
    .option('--prompt-suffix <text>', 'text put after every prompt')
    .option('--adapter <file>', 'the adapter the preset is made for (its file name is recorded and checked when applied)')
    .option('--force', 'replace an existing preset of this name')
    .action(async (name: string, o: PresetCliOptions & { force?: boolean }) => {
      const saved = await store().save(await presetFromOptions(name, o), { overwrite: o.force === true });
      process.stdout.write(`saved preset ${saved.name}: ${describePreset(saved)}\n`);
    });
  presets.command('list')
    .description('list the saved presets')
    .action(() => {
      const s = store();
      const entries = s.list();
      process.stdout.write(entries.length === 0 ? `no presets in ${s.dir}\n` : `${entries.map(listLine).join('\n')}\n`);
    });
  presets.command('show <name|dir>')
    .description('print a preset\'s preset.json and where it is')
    .action((arg: string) => {
      const loaded = store().resolve(arg);
      process.stdout.write(`# ${loaded.folder}\n${JSON.stringify(loaded.preset, null, 2)}\n`);
    });
  presets.command('delete <name>')
    .description('delete a preset and its images')
    .action((name: string) => {
      store().delete(name);
      process.stdout.write(`deleted preset ${name}\n`);
    });
}
