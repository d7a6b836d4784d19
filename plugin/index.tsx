// The UXP entry point: wires the real Photoshop host and the companion client into the panel.
import { mountPanel } from './App';
import { CompanionClient } from './client/companion-client';
import { createPhotoshopHost } from './host/uxp-host';
import { registerPanel } from './host/uxp-entry';

registerPanel((root) => {
  const { unmount } = mountPanel(root, createPhotoshopHost(), new CompanionClient());
  return unmount;
});
