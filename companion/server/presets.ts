/**
 * The protocol's preset messages (`presets.list`, `preset.save`, `preset.load`, `preset.delete`) over a PresetService,
 * which `serve` builds on companion/presets (the server itself touches no preset files). Every request is answered,
 * or refused with UNKNOWN_PRESET, PRESET_EXISTS, BAD_PRESET or UNKNOWN_IMAGE; uploads named by a save are consumed
 * whatever happens.
 */
import {
  CodedError, FrameKind, type ClientMessage, type ErrorCode, type PresetContent, type PresetEntry, type ServerMessage, type StylePreset,
  type PresetContentOf,
} from '../../protocol';
import type { RgbaImage } from '../engine/engine';

/** A preset's content with its images as pixels. */
export type PresetPixels = PresetContentOf<RgbaImage>;

/** Preset storage as the daemon sees it; errors are CodedErrors PRESET_NOT_FOUND, PRESET_EXISTS, PRESET_INVALID, PRESET_UNSUPPORTED. */
export interface PresetService {
  list(): PresetEntry[];
  /** Saves `name`, recording the model set it was made with. */
  save(name: string, content: PresetPixels, options: { readonly overwrite: boolean; readonly modelSet: string }): Promise<void>;
  load(name: string): Promise<{ readonly preset: StylePreset; readonly references: readonly RgbaImage[]; readonly negative?: RgbaImage }>;
  delete(name: string): void;
}

export type PresetMessage = Extract<ClientMessage, { type: 'presets.list' | 'preset.save' | 'preset.load' | 'preset.delete' }>;

/** What the handler needs from the connection that asked. */
export interface PresetPeer {
  send(message: ServerMessage): void;
  sendError(code: ErrorCode, message: string, extra?: { requestId?: string }): void;
  /** Takes (consumes) a complete upload; undefined when there is none under that id. */
  takeUpload(transferId: number): RgbaImage | undefined;
  /** Sends images as frames of `kind` after the message `announce` makes from their transfer ids. */
  sendImages(kind: FrameKind, images: readonly RgbaImage[], announce: (transferIds: readonly number[]) => ServerMessage): void;
}

const CODES: Record<string, ErrorCode> = {
  PRESET_NOT_FOUND: 'UNKNOWN_PRESET',
  PRESET_EXISTS: 'PRESET_EXISTS',
  PRESET_INVALID: 'BAD_PRESET',
  PRESET_UNSUPPORTED: 'BAD_PRESET',
};

function refusal(e: unknown): { code: ErrorCode; message: string } {
  const message = e instanceof Error ? e.message : String(e);
  return { code: e instanceof CodedError ? (CODES[e.code] ?? 'INTERNAL') : 'INTERNAL', message };
}

export function handlePresetMessage(peer: PresetPeer, message: PresetMessage, service: PresetService | undefined, modelSet: () => string): void {
  if (message.type === 'preset.save') {
    // consumed first, so a refused save leaks no upload
    const content = takeImages(peer, message.preset);
    if (typeof content === 'string') return peer.sendError('UNKNOWN_IMAGE', content, { requestId: message.requestId });
    return void answer(peer, message.requestId, async (s) => {
      await s.save(message.name, content, { overwrite: message.overwrite === true, modelSet: modelSet() });
      return { type: 'presets', requestId: message.requestId, presets: s.list() };
    }, service);
  }
  if (message.type === 'presets.list') {
    return peer.send({ type: 'presets', presets: service?.list() ?? [] });
  }
  if (message.type === 'preset.delete') {
    return void answer(peer, message.requestId, async (s) => {
      s.delete(message.name);
      return { type: 'presets', requestId: message.requestId, presets: s.list() };
    }, service);
  }
  const { requestId } = message;
  void answer(peer, requestId, async (s) => {
    const loaded = await s.load(message.name);
    const images = [...loaded.references, ...(loaded.negative !== undefined ? [loaded.negative] : [])];
    const n = loaded.references.length;
    peer.sendImages(FrameKind.reference, images, (ids) => ({
      type: 'preset', requestId, preset: loaded.preset,
      references: loaded.references.map((r, i) => ({ transferId: ids[i]!, width: r.width, height: r.height })),
      ...(loaded.negative !== undefined ? { negativeStyle: { transferId: ids[n]!, width: loaded.negative.width, height: loaded.negative.height } } : {}),
    }));
    return null;
  }, service);
}

async function answer(peer: PresetPeer, requestId: string, run: (s: PresetService) => Promise<ServerMessage | null>, service: PresetService | undefined): Promise<void> {
  if (service === undefined) return peer.sendError('BAD_PRESET', 'this companion keeps no presets', { requestId });
  try {
    const reply = await run(service);
    if (reply !== null) peer.send(reply);
  } catch (e) {
    const { code, message } = refusal(e);
    peer.sendError(code, message, { requestId });
  }
}

/** The save's uploads as pixels (every one taken), or what is missing. */
function takeImages(peer: PresetPeer, content: PresetContent): PresetPixels | string {
  const references = content.references.map((r) => ({ weight: r.weight, image: peer.takeUpload(r.image.transferId) }));
  const negative = content.elements.kind === 'image' ? peer.takeUpload(content.elements.image.transferId) : undefined;
  const missing = content.references.find((_, i) => references[i]!.image === undefined);
  if (missing !== undefined) return `reference transfer ${missing.image.transferId} is not a complete upload on this connection`;
  if (content.elements.kind === 'image' && negative === undefined) {
    return `negative style transfer ${content.elements.image.transferId} is not a complete upload on this connection`;
  }
  return {
    references: references.map((r) => ({ weight: r.weight, image: r.image! })),
    elements: content.elements.kind === 'image' ? { kind: 'image', image: negative! } : content.elements,
    settings: content.settings,
    seed: content.seed,
  };
}
