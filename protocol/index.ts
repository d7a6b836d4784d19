/** The protocol (version.ts) between the Photoshop panel and the companion daemon. Depends on zod only. */
export { PROTOCOL_VERSION } from './version';
export * from './limits';
export * from './errors';
export type { RgbaImage } from './image';
export * from './frame';
export * from './messages';
export * from './json-guard';
export * from './generation-spec';
export * from './aspect';
export * from './preset';
