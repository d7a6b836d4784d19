/**
 * Fixed numbers both programs agree on. The daemon may be configured tighter than the protocol
 * maxima; it announces what it enforces in `welcome.limits`.
 */

/**
 * Default TCP port of the companion on 127.0.0.1. Fixed so the plugin manifest can list it in
 * `network.domains`; chosen away from the ports other local SD tools use (7860/7861, 8188, 8888).
 */
export const DEFAULT_PORT = 47821;

/** Largest payload carried by one binary frame (UXP closes sockets whose send buffer overflows). */
export const MAX_CHUNK_BYTES = 1024 * 1024;

/**
 * Output sides are multiples of this: SDXL's VAE downsamples by 8 and its UNet by another 4. The engine refuses any
 * other size, so the protocol does too, before a job is queued.
 */
export const SIZE_STRIDE = 32;

/** Bytes per pixel of every image on the wire: 8-bit RGBA, row-major, top row first. */
export const BYTES_PER_PIXEL = 4;

/** Absolute upper bounds of the protocol itself; a daemon announces its own (smaller) limits. */
export const PROTOCOL_MAX = {
  imageSide: 8192,
  promptLength: 8192,
  variations: 4,
  steps: 200,
  idLength: 64,
  /** A model set's id (a checkpoint's path under a model root) and how many sets one `modelSets` lists. */
  modelSetIdLength: 512,
  modelSets: 500,
  /** Presets one `presets` lists. */
  presets: 500,
  tokenLength: 256,
} as const;

/** What a daemon enforces, sent in `welcome.limits`. */
export interface Limits {
  /** Largest width or height of any image (uploaded style or generated result), in pixels. */
  readonly maxImageSide: number;
  /** Longest prompt or negative prompt, in UTF-16 code units (JavaScript string length). */
  readonly maxPromptLength: number;
  /** Most jobs waiting or running, all clients together. */
  readonly maxQueue: number;
  /** Most jobs one connection may have waiting or running. */
  readonly maxJobsPerClient: number;
  /** Payload size the daemon uses for its binary chunks, and the most it accepts per chunk. */
  readonly chunkBytes: number;
  /** Largest WebSocket message the daemon accepts (header + chunk, or one JSON text frame). */
  readonly maxPayloadBytes: number;
  /** Most image uploads a connection may have unfinished or unused at once. */
  readonly maxPendingUploads: number;
  readonly maxVariations: number;
  readonly maxSteps: number;
  /** Longest side of the previews sent with `progress`. */
  readonly previewSide: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxImageSide: 2048,
  maxPromptLength: 2000,
  maxQueue: 32,
  maxJobsPerClient: 16,
  chunkBytes: MAX_CHUNK_BYTES,
  maxPayloadBytes: MAX_CHUNK_BYTES + 64 * 1024,
  maxPendingUploads: 4,
  maxVariations: 4,
  maxSteps: 150,
  previewSide: 128,
};
