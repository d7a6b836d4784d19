/** Preset errors, one class per code; the daemon maps them onto the protocol's UNKNOWN_PRESET, PRESET_EXISTS, BAD_PRESET. */
import { codedErrorClass } from '../../protocol';

/** No preset of that name (or no preset.json in that folder). */
export class PresetNotFoundError extends codedErrorClass('PresetNotFoundError', 'PRESET_NOT_FOUND') {}
/** Saving over an existing preset without being asked to. */
export class PresetExistsError extends codedErrorClass('PresetExistsError', 'PRESET_EXISTS') {}
/** A bad name, or a preset.json / image that is not what a preset holds. */
export class PresetInvalidError extends codedErrorClass('PresetInvalidError', 'PRESET_INVALID') {}
/** A valid preset this version cannot apply (several reference images). */
export class PresetUnsupportedError extends codedErrorClass('PresetUnsupportedError', 'PRESET_UNSUPPORTED') {}
