/**
 * The model set StyleStudio runs with by default: exact repositories and files on the Hugging Face
 * hub. `stylestudio models list|pull` and the panel's download button work from this list.
 */

export interface ModelFile {
  /** Path inside the repository, '/'-separated. */
  readonly path: string;
  /** Rough size for display before the hub has been asked (the hub's own size is what is checked). */
  readonly approxBytes: number;
}

export interface ModelSpec {
  /** Stable id used in messages and on the command line. */
  readonly id: string;
  readonly description: string;
  /** Hugging Face repository "owner/name". */
  readonly repo: string;
  /** Branch, tag or commit the files are taken from. */
  readonly revision: string;
  readonly files: readonly ModelFile[];
}

const KB = 1024;
const MB = 1024 * KB;

const tokenizer = (dir: string): ModelFile[] => [
  { path: `${dir}/merges.txt`, approxBytes: 525 * KB },
  { path: `${dir}/special_tokens_map.json`, approxBytes: 1 * KB },
  { path: `${dir}/tokenizer_config.json`, approxBytes: 1 * KB },
  { path: `${dir}/vocab.json`, approxBytes: 1060 * KB },
];

export const DEFAULT_MODELS: readonly ModelSpec[] = [
  {
    id: 'sdxl-base',
    description: 'Stable Diffusion XL 1.0 base, fp16 variant (UNet, both text encoders, tokenizers, scheduler)',
    repo: 'stabilityai/stable-diffusion-xl-base-1.0',
    revision: 'main',
    files: [
      { path: 'model_index.json', approxBytes: 1 * KB },
      { path: 'scheduler/scheduler_config.json', approxBytes: 1 * KB },
      { path: 'text_encoder/config.json', approxBytes: 1 * KB },
      { path: 'text_encoder/model.fp16.safetensors', approxBytes: 246 * MB },
      { path: 'text_encoder_2/config.json', approxBytes: 1 * KB },
      { path: 'text_encoder_2/model.fp16.safetensors', approxBytes: 1390 * MB },
      ...tokenizer('tokenizer'),
      ...tokenizer('tokenizer_2'),
      { path: 'unet/config.json', approxBytes: 2 * KB },
      { path: 'unet/diffusion_pytorch_model.fp16.safetensors', approxBytes: 5135 * MB },
      // The base VAE is replaced by the fp16-fix VAE below (the base one overflows in fp16);
      // its config comes along so the folder stays a complete diffusers layout description.
      { path: 'vae/config.json', approxBytes: 1 * KB },
    ],
  },
  {
    id: 'sdxl-vae-fp16-fix',
    description: 'SDXL VAE fine-tuned to run in fp16 without overflow (used instead of the base VAE)',
    repo: 'madebyollin/sdxl-vae-fp16-fix',
    revision: 'main',
    files: [
      { path: 'config.json', approxBytes: 1 * KB },
      { path: 'diffusion_pytorch_model.safetensors', approxBytes: 335 * MB },
    ],
  },
  {
    id: 'csgo-adapter',
    description: 'StyleStudio style adapter: CSGO csgo_4_32 (style branch: resampler + style cross-attention weights)',
    repo: 'InstantX/CSGO',
    revision: 'main',
    files: [{ path: 'csgo_4_32.bin', approxBytes: 2400 * MB }],
  },
  {
    id: 'image-encoder',
    description: 'CLIP ViT-bigG/14 image encoder the adapter reads (h94/IP-Adapter sdxl_models/image_encoder)',
    repo: 'h94/IP-Adapter',
    revision: 'main',
    files: [
      { path: 'sdxl_models/image_encoder/config.json', approxBytes: 1 * KB },
      { path: 'sdxl_models/image_encoder/model.safetensors', approxBytes: 3690 * MB },
    ],
  },
];

/**
 * Not part of the default set: the tokenizer files a single-file checkpoint needs (checkpoints carry none). The same
 * repository as sdxl-base, so it is present whenever sdxl-base is; `models pull sdxl-tokenizers` fetches only these.
 */
export const SDXL_TOKENIZERS: ModelSpec = {
  id: 'sdxl-tokenizers',
  description: 'SDXL tokenizers only (for single-file checkpoints, which carry none)',
  repo: 'stabilityai/stable-diffusion-xl-base-1.0',
  revision: 'main',
  files: [...tokenizer('tokenizer'), ...tokenizer('tokenizer_2')],
};

/** Every model `models pull ID` knows: the default set and the optional ones. */
export const PULLABLE_MODELS: readonly ModelSpec[] = [...DEFAULT_MODELS, SDXL_TOKENIZERS];

const REPO_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}\/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$/;
const SEGMENT_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,254}$/;
const REVISION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Names that become file-system paths are checked first: no `..`, no absolute paths, no odd characters. */
export function assertSafeRepo(repo: string): void {
  if (!REPO_PATTERN.test(repo) || repo.includes('..')) throw new Error(`invalid repository name ${JSON.stringify(repo)}`);
}

export function assertSafeRepoPath(file: string): void {
  const parts = file.split('/');
  if (parts.some((p) => !SEGMENT_PATTERN.test(p) || p === '.' || p === '..')) {
    throw new Error(`invalid file path ${JSON.stringify(file)} (segments of letters, digits, _ . + - only)`);
  }
}

export function assertSafeRevision(revision: string): void {
  if (!REVISION_PATTERN.test(revision) || revision.includes('..')) throw new Error(`invalid revision ${JSON.stringify(revision)}`);
}
