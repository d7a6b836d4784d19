/**
 * Engine errors carry a stable code (callers branch on it, never on message text) and a message that names the fix.
 */
import { CodedError } from '../../protocol';
export const ENGINE_ERROR_CODES = {
  /** A job (or one of its networks) cannot fit the memory budget; the message gives both figures. */
  MEMORY_BUDGET: 'memory budget exceeded',
  BAD_BUDGET: 'invalid memory budget',
  /** A required model file is absent (a download fixes it). */
  MODEL_FILES_MISSING: 'model files missing',
  /** A model file is there but unreadable: truncated, corrupt, or not what its name says. */
  MODEL_FILES_INVALID: 'model files truncated or corrupt',
  /** The output size cannot be generated: not a multiple of the stride, too small for AdaIN, too large. */
  BAD_SIZE: 'unsupported output size',
  /** Style layers the adapter has no (style) weights for. */
  STYLE_LAYERS: 'style layers not supported by the adapter',
  /** Adapter weights that are neither used, known-harmless, nor of a known layout. */
  ADAPTER_KEYS: 'unknown adapter weights',
  BAD_REQUEST: 'invalid generation request',
} as const;

export type EngineErrorCode = keyof typeof ENGINE_ERROR_CODES;

export class EngineError extends CodedError<EngineErrorCode> {
  override readonly name = 'EngineError';
}

export function isEngineError(e: unknown, code?: EngineErrorCode): e is EngineError {
  return e instanceof EngineError && (code === undefined || e.code === code);
}

/** What the pipeline (and so an engine) throws when it stopped because its abort signal fired. */
export class GenerationAborted extends CodedError<'CANCELLED'> {
  constructor() {
    super('CANCELLED', 'generation cancelled');
    this.name = 'GenerationAborted';
  }
}
