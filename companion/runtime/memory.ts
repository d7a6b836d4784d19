/**
 * Memory: the budget (how much the engine may keep resident) and the footprint of each network's session, so a job
 * is admitted or refused before anything loads, and the resident cache knows what to release.
 *
 * A session's footprint = its weights in the compute precision × the provider's overhead + activations that grow
 * with the image size and the batch rows. The constants are measured on the real-shape default set
 * (docs/BENCHMARKS.md, `npm run bench:realshape`); they are estimates, so the budget keeps a margin.
 */
import * as os from 'node:os';
import type { ExecutionProvider, Precision } from '../onnx/lowering';
import { EngineError } from './errors';

export const GiB = 2 ** 30;

/** Networks the engine loads, in the order a job needs them. */
export type NetworkKind = 'text-encoders' | 'image-encoder' | 'vae-encoder' | 'unet' | 'vae-decoder';

/**
 * Session bytes per weight byte (weights already in the compute precision). CPU: measured 1.15 for the SDXL UNet
 * (ORT keeps the folded fp32 copies plus small per-node buffers); GPU providers: weights live on the device with
 * little host overhead.
 */
const WEIGHT_OVERHEAD_CPU = 1.15;
const WEIGHT_OVERHEAD_GPU = 1.05;

/**
 * Activation bytes per latent pixel per batch row (UNet) and per output pixel (VAE decoder), fp32; halved for
 * fp16. UNet: measured on the real-shape set at 512², 4 rows (RSS 10.78 → 11.30 GiB while stepping: ~32 KiB per
 * latent pixel and row), plus a quarter for margin; docs/BENCHMARKS.md.
 */
export const UNET_ACTIVATION_BYTES_PER_LATENT_PIXEL_ROW = 40 * 1024;
export const VAE_ACTIVATION_BYTES_PER_PIXEL = 2.5 * 1024;
/** Text encoders and the image encoder run fixed-size inputs (77 tokens, 224²): a fixed activation allowance. */
const ENCODER_ACTIVATION_BYTES = 0.25 * GiB;
/** The process itself (Node, onnxruntime, graphs, workers) outside any session. */
export const PROCESS_BASE_BYTES = 0.5 * GiB;

export interface FootprintInput {
  readonly network: NetworkKind;
  /** Elements of every weight tensor the network's graph reads. */
  readonly weightElements: number;
  readonly precision: Precision;
  readonly provider: ExecutionProvider;
  /** UNet: latent height × width and batch rows; VAE decoder and encoder: image pixels. */
  readonly latentPixels?: number;
  readonly rows?: number;
  readonly outputPixels?: number;
}

function isGpu(p: ExecutionProvider): boolean {
  return p !== 'cpu';
}

/** Estimated bytes a session of this network holds while it runs. */
export function sessionFootprint(f: FootprintInput): number {
  const elem = f.precision === 'fp16' ? 2 : 4;
  const weights = f.weightElements * elem * (isGpu(f.provider) ? WEIGHT_OVERHEAD_GPU : WEIGHT_OVERHEAD_CPU);
  const scale = elem / 4;
  switch (f.network) {
    case 'unet':
      return weights + (f.latentPixels ?? 0) * (f.rows ?? 2) * UNET_ACTIVATION_BYTES_PER_LATENT_PIXEL_ROW * scale;
    case 'vae-decoder':
    // the encoder mirrors the decoder: its widest activations are the same channels at the full image size
    case 'vae-encoder':
      return weights + (f.outputPixels ?? 0) * VAE_ACTIVATION_BYTES_PER_PIXEL * scale;
    case 'text-encoders':
    case 'image-encoder':
      return weights + ENCODER_ACTIVATION_BYTES * scale;
    default: {
      const never: never = f.network;
      throw new Error(`unknown network ${String(never)}`);
    }
  }
}

export interface PhasePlan {
  readonly phase: 'conditioning' | 'denoise' | 'decode';
  /** Networks resident during the phase and their bytes. */
  readonly networks: readonly { readonly network: NetworkKind; readonly bytes: number }[];
  readonly bytes: number;
}

/** What a job holds per phase when each phase's networks are released before the next needs the memory. */
export interface JobMemoryPlan {
  readonly provider: ExecutionProvider;
  readonly precision: Precision;
  readonly phases: readonly PhasePlan[];
  /** The largest phase plus the process itself: what the job needs at least. */
  readonly peakBytes: number;
  readonly budgetBytes: number;
  /** UNet and VAE decoder fit together (decode after each variation); otherwise decode after the last. */
  readonly decodeInterleaved: boolean;
  /** UNet rows per call when the pipeline has decided it (4, or 2 when the teacher's pairs run one by one). */
  readonly rowsPerRun?: number;
}

export interface JobFootprints {
  readonly textEncoders: number;
  /** null without a style image. */
  readonly imageEncoder: number | null;
  /** null without an init image (img2img). */
  readonly vaeEncoder: number | null;
  readonly unet: number;
  readonly vaeDecoder: number;
}

export function planJobMemory(f: JobFootprints, provider: ExecutionProvider, precision: Precision, budgetBytes: number): JobMemoryPlan {
  const conditioning: { network: NetworkKind; bytes: number }[] = [{ network: 'text-encoders', bytes: f.textEncoders }];
  // The text encoders, the image encoder and the VAE encoder run one after the other, each released before the next
  // loads if need be: the phase needs the largest.
  const condBytes = Math.max(f.textEncoders, f.imageEncoder ?? 0, f.vaeEncoder ?? 0);
  if (f.imageEncoder !== null) conditioning.push({ network: 'image-encoder', bytes: f.imageEncoder });
  if (f.vaeEncoder !== null) conditioning.push({ network: 'vae-encoder', bytes: f.vaeEncoder });
  const interleaved = f.unet + f.vaeDecoder + PROCESS_BASE_BYTES <= budgetBytes;
  const phases: PhasePlan[] = [
    { phase: 'conditioning', networks: conditioning, bytes: condBytes },
    { phase: 'denoise', networks: [{ network: 'unet', bytes: f.unet }], bytes: f.unet },
    {
      phase: 'decode',
      networks: interleaved ? [{ network: 'unet', bytes: f.unet }, { network: 'vae-decoder', bytes: f.vaeDecoder }] : [{ network: 'vae-decoder', bytes: f.vaeDecoder }],
      bytes: interleaved ? f.unet + f.vaeDecoder : f.vaeDecoder,
    },
  ];
  const peak = Math.max(condBytes, f.unet, f.vaeDecoder) + PROCESS_BASE_BYTES;
  return { provider, precision, phases, peakBytes: peak, budgetBytes, decodeInterleaved: interleaved };
}

/** Refuses a plan whose smallest staging cannot fit the budget, with both figures. */
export function admit(plan: JobMemoryPlan): void {
  if (plan.peakBytes > plan.budgetBytes) {
    const gib = (b: number) => (b / GiB).toFixed(1);
    throw new EngineError('MEMORY_BUDGET',
      `this job needs ${gib(plan.peakBytes)} GiB but the memory budget is ${gib(plan.budgetBytes)} GiB ` +
      `(largest phase: ${[...plan.phases].sort((a, b) => b.bytes - a.bytes)[0]!.phase}); ` +
      'use a smaller size, fp16 on a GPU, or raise --memory-budget');
  }
}

/**
 * The default budget. CPU: 60 % of the machine's memory — Photoshop runs beside the companion and by default takes
 * up to 70 % of RAM for itself, so the engine must leave room rather than fill the machine. GPU providers: onnxruntime
 * cannot report device memory, so 8 GiB (the common designer card) unless `--memory-budget` says otherwise.
 */
export function defaultBudgetBytes(provider: ExecutionProvider, totalBytes: number = os.totalmem()): number {
  if (isGpu(provider)) return 8 * GiB;
  return Math.floor(totalBytes * 0.6);
}

/** Parses "12", "12G", "12GiB", "12GB", "12000M", "0.5T" (binary units) into bytes. */
export function parseBudget(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(k|m|g|t)?(i?b)?\s*$/i.exec(text);
  if (!m) throw new EngineError('BAD_BUDGET', `--memory-budget ${JSON.stringify(text)}: expected a size such as 12GiB or 9000MiB`);
  const unit = (m[2] ?? 'g').toLowerCase();
  const bytes = Number(m[1]) * 2 ** ({ k: 10, m: 20, g: 30, t: 40 } as const)[unit as 'k' | 'm' | 'g' | 't'];
  if (!(bytes >= 256 * 2 ** 20)) throw new EngineError('BAD_BUDGET', `--memory-budget ${text}: at least 256 MiB`);
  return Math.floor(bytes);
}

/** The plan as a table for the terminal: one line per phase, then the peak against the budget. */
export function formatMemoryPlan(plan: JobMemoryPlan): string {
  const gib = (b: number) => `${(b / GiB).toFixed(2)} GiB`;
  const lines = [`memory plan (${plan.provider}, ${plan.precision}):`];
  for (const p of plan.phases) {
    lines.push(`  ${p.phase.padEnd(13)} ${gib(p.bytes).padStart(10)}  ${p.networks.map((n) => `${n.network} ${gib(n.bytes)}`).join(' + ')}`);
  }
  lines.push(`  peak          ${gib(plan.peakBytes).padStart(10)}  (largest phase + ${gib(PROCESS_BASE_BYTES)} for the process); budget ${gib(plan.budgetBytes)}` +
    `${plan.peakBytes > plan.budgetBytes ? ': DOES NOT FIT' : ''}`);
  if (plan.rowsPerRun !== undefined) lines.push(`  UNet rows     ${plan.rowsPerRun} per call${plan.rowsPerRun === 2 ? ' (the teacher\'s pairs one after the other, to fit the budget)' : ''}`);
  lines.push(`  decode        ${plan.decodeInterleaved ? 'after each variation (UNet and VAE decoder fit together)' : 'after the last variation (the UNet is released first)'}`);
  return `${lines.join('\n')}\n`;
}
