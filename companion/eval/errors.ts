/**
 * Errors of `stylestudio eval` and `stylestudio sweep` carry a stable code (tests and scripts branch on it) and a
 * message that names the input and the fix.
 */
import { CodedError } from '../../protocol';
export const EVAL_ERROR_CODES = {
  /** A flag is missing, malformed or contradicts another. */
  BAD_ARGUMENT: 'invalid command-line argument',
  /** An image (to score, or a style reference) cannot be read or decoded. */
  BAD_IMAGE: 'unreadable image',
  /** The text and image towers do not share an embedding space (projection widths differ). */
  TOWER_MISMATCH: 'text and image towers do not match',
  /** A CSD checkpoint that is not the CSD architecture (missing or misshapen tensors). */
  CSD_WEIGHTS: 'not a CSD checkpoint',
  /** The generation engine could not open the model files (missing, truncated, not what they claim). */
  MODELS_UNAVAILABLE: 'models cannot be loaded',
  /** A sweep grid file that does not parse or does not validate. */
  BAD_GRID: 'invalid sweep grid',
  /** The output folder holds a sweep manifest of a different grid, or one that does not parse. */
  MANIFEST_CONFLICT: 'sweep manifest does not match',
} as const;

export type EvalErrorCode = keyof typeof EVAL_ERROR_CODES;

export class EvalError extends CodedError<EvalErrorCode> {
  override readonly name = 'EvalError';
}

export function isEvalError(e: unknown, code?: EvalErrorCode): e is EvalError {
  return e instanceof EvalError && (code === undefined || e.code === code);
}
