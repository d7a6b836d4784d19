/** The presets `serve` offers the panel: the config dir's presets/ (companion/presets), shared with the CLI. */
import { checkApplicable, presetsDir, PresetStore, readPresetImages } from '../presets/store';
import type { PresetService } from '../server/presets';

export function servePresets(configDir: string): PresetService {
  const store = new PresetStore(presetsDir(configDir));
  return {
    list: () => store.list(),
    save: async (name, content, { overwrite, modelSet }) => {
      await store.save({ name, ...content, madeWith: { modelSet } }, { overwrite });
    },
    load: async (name) => {
      const loaded = store.open(name);
      checkApplicable(loaded.preset);
      const images = await readPresetImages(loaded);
      return { preset: loaded.preset, ...images };
    },
    delete: (name) => store.delete(name),
  };
}
