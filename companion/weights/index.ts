/**
 * weights/: where tensors live, never their bytes. Readers turn checkpoint files into TensorRefs (file realpath,
 * dtype, shape, byte offset, length) that the ONNX builder references as external data; WeightStore is the
 * WeightScope network builders walk. Start with `resolveModelLocation` → `openDiffusersFolder` →
 * `component(name).weights({ variant }).open()`; a single-file checkpoint is the same folder interface through
 * `openSingleFileModel` (docs/MODELS.md).
 */
export { DTYPE_BYTES, type DType, type TensorRef, type WeightScope } from './tensor';
export { WeightError, WeightFileError } from './errors';
export { WeightStore, type IgnoredKeys } from './weight-store';
export { readSafetensors, readShardIndex, SAFETENSORS_MAX_HEADER_BYTES, type SafetensorsFile } from './safetensors';
export { readTorchBin, type TorchBinFile } from './torch-bin';
export {
  openComponentFolder, openDiffusersFolder, parseConfig, requireKey,
  type DiffusersComponent, type DiffusersFolder, type WeightChoice, type WeightOptions, type WeightVariant,
} from './diffusers';
export { hubCacheDir, resolveHubSnapshot, resolveModelLocation, type HubOptions, type HubSnapshot } from './hub-cache';
export { ModelSourceError, type ModelSourceErrorCode } from './errors';
export { type CheckpointPart, ldmRules, PART_PREFIX } from './ldm-layout';
export {
  openCheckpointPart, openSingleFileModel, openWeightSource, readSingleFileCheckpoint,
  type CheckpointPartSource, type SingleFileModelOptions, type WeightSource,
} from './single-file';
export { openImageEncoder } from './image-encoder-source';
export { findModel, modelRoots, scanModelRoot, type FoundModel, type RootScan } from './model-roots';
export { resolveModelSource, resolveStyleFiles, type ModelSource } from './model-source';
export type { JsonObject, JsonValue } from './strict-json';
