import type { DocumentInfo } from '../host/host';
import type { PickerOption } from './spectrum';

/** The document's layers as picker options: indented by depth, layers without pixels greyed out. */
export function layerOptions(doc: DocumentInfo): PickerOption[] {
  return doc.layers.map((l) => ({ key: String(l.id), label: `${'  '.repeat(l.depth)}${l.name}`, disabled: !l.readable }));
}

/** The first readable layer not among `used` (what "+ Add …" offers), or null when every one is taken. */
export function nextUnusedLayer(doc: DocumentInfo, used: ReadonlySet<number | null>): number | null {
  return doc.layers.find((l) => l.readable && !used.has(l.id))?.id ?? null;
}
