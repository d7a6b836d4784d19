/// <reference types="@adobe/cc-ext-uxp-types" />
import { entrypoints } from 'uxp';

export const PANEL_ID = 'stylestudio.panel';

/**
 * Registers the panel with UXP. `create` must return quickly (UXP allows 300 ms), so connecting and
 * reading the document happen after it returns. show/hide are unreliable in Photoshop, so the
 * connection never depends on them.
 */
export function registerPanel(create: (root: HTMLElement) => () => void): void {
  let dispose: (() => void) | null = null;
  entrypoints.setup({
    panels: {
      [PANEL_ID]: {
        create(rootNode: HTMLElement) {
          dispose = create(document.getElementById('root') ?? rootNode);
        },
        destroy() {
          dispose?.();
          dispose = null;
        },
      },
    },
  } as unknown as Parameters<typeof entrypoints.setup>[0]);
}
