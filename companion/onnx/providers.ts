/**
 * Which execution providers this machine can use. listSupportedBackends() says what the installed
 * onnxruntime-node binary was built with; session.ts's availableProviders() additionally creates a tiny session
 * per EP, because a listed provider can still fail to load (CUDA/cuDNN missing or of the wrong major version).
 */
import { listSupportedBackends } from 'onnxruntime-node';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from './lowering';
import { CodedError } from '../../protocol';

/** The asked provider is not usable here (not built for this platform, libraries missing, or it failed to start). */
export class ProviderUnavailableError extends CodedError<'PROVIDER_UNAVAILABLE'> {
  override readonly name = 'ProviderUnavailableError';
  constructor(readonly provider: ExecutionProvider, message: string) {
    super('PROVIDER_UNAVAILABLE', message);
  }
}

const ORT_NAME: Readonly<Record<ExecutionProvider, string>> = { cpu: 'cpu', cuda: 'cuda', dml: 'dml', coreml: 'coreml', webgpu: 'webgpu' };

const HINT: Readonly<Record<ExecutionProvider, string>> = {
  cpu: '',
  cuda: 'CUDA needs Linux x64, an NVIDIA GPU with CUDA 12 + cuDNN 9, and onnxruntime-node installed with --onnxruntime-node-install=cuda12',
  dml: 'DirectML is available on Windows only',
  coreml: 'CoreML is available on macOS arm64 only',
  webgpu: 'WebGPU ships in onnxruntime-node for Linux x64, Windows x64 and macOS arm64; on Linux it needs a Vulkan driver (Mesa >= 25 for a GPU-less machine: see docs/GPU.md)',
};

/** What a user needs for `provider` (empty for cpu). */
export function providerHint(provider: ExecutionProvider): string {
  return HINT[provider];
}

export function listedProviders(): string[] {
  return listSupportedBackends().map((b) => b.name);
}

/** Throws ProviderUnavailableError when onnxruntime-node on this platform was not built with `provider`. */
export function checkProviderListed(provider: ExecutionProvider): void {
  const listed = listedProviders();
  if (!EXECUTION_PROVIDERS.includes(provider)) {
    throw new ProviderUnavailableError(provider, `unknown execution provider "${String(provider)}" (known: ${EXECUTION_PROVIDERS.join(', ')})`);
  }
  if (!listed.includes(ORT_NAME[provider])) {
    throw new ProviderUnavailableError(
      provider,
      `execution provider ${provider} is not available on ${process.platform}/${process.arch}: onnxruntime-node offers [${listed.join(', ')}]. ${HINT[provider]}`.trim(),
    );
  }
}
