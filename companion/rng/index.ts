/** PyTorch-compatible CPU random numbers: same seed, same noise as torch / diffusers / ComfyUI. */
export { TorchCpuGenerator, normalizeSeed, type TorchSeed } from './torch-generator';
export { randn, randnFloat16, randnOf, rand, shapeSize, type RandnDType } from './randn';
export { float16BitsToNumber, float32ToFloat16Bits } from './float16';
