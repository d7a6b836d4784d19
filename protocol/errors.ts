/**
 * Stable error codes of the protocol (version.ts). Clients branch on `code`, never on message text; a code is never
 * renamed or reused within a major version.
 */
export const ERROR_CODES = {
  BAD_JSON: 'A text frame was not valid UTF-8 JSON.',
  BAD_MESSAGE: 'A message had a known type but wrong, missing or out-of-range fields (message names the field).',
  UNKNOWN_TYPE: 'A message had no `type` or a type this version does not know.',
  NOT_AUTHENTICATED: 'A message other than `hello` arrived before a successful `hello`.',
  ALREADY_AUTHENTICATED: 'A second `hello` arrived on an authenticated connection.',
  BAD_TOKEN: 'The pairing token in `hello` was wrong, rotated or revoked; answered after a growing delay, then closed (4401).',
  RATE_LIMITED: 'Reserved (no longer sent: wrong tokens are slowed down per connection instead, see BAD_TOKEN).',
  VERSION_MISMATCH: 'The protocol major versions differ; the message names both (closed with 4426).',
  HELLO_TIMEOUT: 'No `hello` arrived in time after connecting (closed with 4408).',
  CONNECTION_LIMIT: 'As many panels as the daemon serves are already paired; close one and retry (closed with 4503).',
  UNKNOWN_PANEL: '`panels.revoke` named a panel id that is not paired.',
  BAD_FRAME: 'A binary frame had no valid header (magic, version, kind, sizes).',
  CHUNK_ORDER: 'A binary chunk arrived out of order, for an unknown transfer, or disagreeing with its first chunk.',
  BAD_IMAGE: 'Image bytes did not match width × height × 4, or the dimensions were zero.',
  IMAGE_TOO_LARGE: 'An image side exceeds `limits.maxImageSide`.',
  UPLOAD_LIMIT: 'Too many unfinished or unused uploads on this connection (`limits.maxPendingUploads`).',
  UNKNOWN_IMAGE: '`generate` referenced a transfer id that is not a complete upload on this connection.',
  PROMPT_TOO_LONG: 'A prompt exceeds `limits.maxPromptLength`.',
  QUEUE_FULL: 'The queue (or this connection\'s share of it) is full; retry when a job finishes.',
  UNKNOWN_JOB: '`cancel` named a job that does not exist, already finished, or belongs to another connection.',
  ENGINE_NOT_READY: 'The engine cannot run jobs yet (see `welcome.engine.reason`), for a reason other than missing models.',
  MODELS_MISSING: 'The models a job needs are not on this machine; `models.pull` or `stylestudio models pull` fetches them.',
  JOB_TOO_LARGE: 'The job needs more memory than the engine\'s budget (the message gives both figures); use a smaller size or raise `serve --memory-budget`.',
  JOB_UNSUPPORTED: 'The engine cannot run these settings with the loaded models (size too small for the style layers, style layers the adapter has no weights for); the message names the fix.',
  ENGINE_FAILED: 'The engine failed while running this job; the message says why. The daemon keeps serving.',
  PULL_IN_PROGRESS: 'A model download is already running; its progress goes to the connection that started it.',
  DOWNLOAD_FAILED: 'A model download failed (network, size or hash mismatch); nothing corrupt was kept.',
  SHUTTING_DOWN: 'The daemon is stopping; queued jobs end with this code.',
  UNKNOWN_MODEL_SET: '`modelSet.select` named a model set that `modelSets` does not list.',
  MODEL_SET_UNUSABLE: 'The model set cannot be used (a file is unreadable or not what it claims); the message says which and why.',
  MODEL_SET_BUSY: 'The model set cannot change while a job is queued or running, or while models download; retry when idle.',
  UNKNOWN_PRESET: '`preset.load` or `preset.delete` named a preset that does not exist.',
  PRESET_EXISTS: '`preset.save` named an existing preset without `overwrite: true`; nothing was changed.',
  BAD_PRESET: 'A preset is invalid or cannot be applied (a bad name, a damaged preset.json, more reference images than the engine takes); the message says which.',
  INTERNAL: 'An unexpected fault in the daemon; the connection and daemon stay up.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[];

/** WebSocket close codes the daemon uses (4000–4999 is the application range). */
export const CLOSE_CODES = {
  BAD_TOKEN: 4401,
  HELLO_TIMEOUT: 4408,
  VERSION_MISMATCH: 4426,
  RATE_LIMITED: 4429,
  CONNECTION_LIMIT: 4503,
  /** ws itself closes with 1009 when a message exceeds `maxPayload`. */
  MESSAGE_TOO_BIG: 1009,
} as const;

/**
 * Every error either program throws on purpose carries a stable code (ws's `createError(code, message)` style):
 * callers branch on `code`, never on message text. ProtocolError's codes are the protocol's; each companion area's
 * error class fixes a code of its own (codedErrorClass).
 */
export class CodedError<C extends string = string> extends Error {
  constructor(
    readonly code: C,
    message: string,
  ) {
    super(message);
  }
}

/** A named error class whose every instance carries `code`: `class ImageError extends codedErrorClass('ImageError', 'BAD_IMAGE') {}`. */
export function codedErrorClass<C extends string>(name: string, code: C) {
  return class extends CodedError<C> {
    constructor(message: string) {
      super(code, message);
      this.name = name;
    }
  };
}

/** An error with a stable protocol code, thrown inside either program and turned into an `error` message. */
export class ProtocolError extends CodedError<ErrorCode> {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
    this.name = 'ProtocolError';
  }
}
