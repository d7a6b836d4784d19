/**
 * The protocol's control messages: JSON text frames `{ "type": ..., ... }`, validated with zod on
 * arrival by both programs. Minor versions may add optional fields; unknown fields are ignored, except in
 * `generate.params` (the GenerationSpec), which refuses them.
 */
import { z } from 'zod';
import { ERROR_CODE_LIST, type ErrorCode } from './errors';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from './json-guard';
import { PROTOCOL_MAX } from './limits';
import { type GenerationSpec, generationSpecSchema, SPEC_LIMITS } from './generation-spec';
import { PresetName, presetContentSchema, StylePreset } from './preset';

const Id = z.string().min(1).max(PROTOCOL_MAX.idLength);
const U32 = z.number().int().min(0).max(0xffffffff);
/** Largest seed: variation k uses seed + k, which must stay an exact JavaScript integer. */
export const MAX_SEED = SPEC_LIMITS.maxSeed;
const Side = z.number().int().min(1).max(PROTOCOL_MAX.imageSide);

/** A completed binary upload (FrameKind.upload) on the same connection, named by its transfer id. */
export const ImageRef = z.object({ transferId: U32 });
export type ImageRef = z.infer<typeof ImageRef>;

/** Everything one generation takes: the GenerationSpec (generation-spec.ts) with images as upload references. */
export const GenerateParams = generationSpecSchema(ImageRef);
export type GenerateParams = GenerationSpec<ImageRef>;

// ---------------------------------------------------------------- panel → daemon

export const Hello = z.object({
  type: z.literal('hello'),
  /** "major.minor"; a different major is refused with VERSION_MISMATCH. */
  protocolVersion: z.string().regex(/^\d{1,4}\.\d{1,4}$/),
  token: z.string().min(1).max(PROTOCOL_MAX.tokenLength),
  client: z.object({ name: z.string().max(64), version: z.string().max(64) }).optional(),
});
export const Generate = z.object({ type: z.literal('generate'), requestId: Id, params: GenerateParams });
export const Cancel = z.object({ type: z.literal('cancel'), jobId: Id });
export const StatusRequest = z.object({ type: z.literal('status') });
/** Downloads every missing model of the default set; progress comes as `models.progress`. */
export const ModelsPull = z.object({ type: z.literal('models.pull'), requestId: Id });
export const Ping = z.object({ type: z.literal('ping'), nonce: z.number().optional() });
/** Lists the model sets this companion can run (`modelSets`): the default set and checkpoints under its model roots. */
export const ModelSetsList = z.object({ type: z.literal('modelSets.list') });
/** Switches every later job to model set `id` (answered with `modelSets`); refused while a job is queued or running. */
export const ModelSetSelect = z.object({ type: z.literal('modelSet.select'), requestId: Id, id: z.string().min(1).max(PROTOCOL_MAX.modelSetIdLength) });
/** Lists the panels paired with this companion (`panels`). */
export const PanelsList = z.object({ type: z.literal('panels.list') });
/** Unpairs a panel: its token stops working and its connection closes (4401); answered with `panels`. */
export const PanelsRevoke = z.object({ type: z.literal('panels.revoke'), id: Id });

/** Lists the companion's style presets (`presets`). */
export const PresetsList = z.object({ type: z.literal('presets.list') });
/** What `preset.save` carries: the preset with its images as uploads sent before it (consumed, as by `generate`). */
export const PresetContent = presetContentSchema(ImageRef);
export type PresetContent = z.infer<typeof PresetContent>;
/** Saves a preset (answered with `presets`); an existing name is refused with PRESET_EXISTS unless `overwrite`. */
export const PresetSave = z.object({
  type: z.literal('preset.save'), requestId: Id, name: PresetName, overwrite: z.boolean().optional(), preset: PresetContent,
});
/** Loads a preset: answered with `preset` and its images as FrameKind.reference frames. */
export const PresetLoad = z.object({ type: z.literal('preset.load'), requestId: Id, name: PresetName });
/** Deletes a preset (answered with `presets`). */
export const PresetDelete = z.object({ type: z.literal('preset.delete'), requestId: Id, name: PresetName });

export const ClientMessage = z.discriminatedUnion('type', [
  Hello, Generate, Cancel, StatusRequest, ModelsPull, Ping, PanelsList, PanelsRevoke, ModelSetsList, ModelSetSelect,
  PresetsList, PresetSave, PresetLoad, PresetDelete,
]);
export type ClientMessage = z.infer<typeof ClientMessage>;
export type Hello = z.infer<typeof Hello>;
export type Generate = z.infer<typeof Generate>;
/** What a panel writes: defaults may be left out. */
export type GenerateInput = z.input<typeof Generate>;
export type Cancel = z.infer<typeof Cancel>;
export type ModelsPull = z.infer<typeof ModelsPull>;
export type PresetSave = z.infer<typeof PresetSave>;
export const CLIENT_MESSAGE_TYPES = [
  'hello', 'generate', 'cancel', 'status', 'models.pull', 'ping', 'panels.list', 'panels.revoke', 'modelSets.list', 'modelSet.select',
  'presets.list', 'preset.save', 'preset.load', 'preset.delete',
] as const;

// ---------------------------------------------------------------- daemon → panel

export const ModelInfo = z.object({
  /** Stable id of the model in the default set, e.g. "sdxl-base". */
  id: z.string(),
  description: z.string(),
  /** Hugging Face repo the files come from. */
  repo: z.string(),
  present: z.boolean(),
  /** Bytes still to download (0 when present; an estimate when the size is unknown yet). */
  missingBytes: z.number().int().min(0),
});
export type ModelInfo = z.infer<typeof ModelInfo>;

export const LimitsSchema = z.object({
  maxImageSide: z.number().int().positive(),
  maxPromptLength: z.number().int().positive(),
  maxQueue: z.number().int().positive(),
  maxJobsPerClient: z.number().int().positive(),
  chunkBytes: z.number().int().positive(),
  maxPayloadBytes: z.number().int().positive(),
  maxPendingUploads: z.number().int().positive(),
  maxVariations: z.number().int().positive(),
  maxSteps: z.number().int().positive(),
  previewSide: z.number().int().positive(),
});

/**
 * False when jobs cannot run yet; `reason` says why (e.g. models missing). `state`: missing (model files absent),
 * present (found, nothing loaded: the first job loads its networks, with progress stages), warming (a network is
 * loading now), warm (the UNet is loaded: a job at its size starts at once).
 */
export const EngineState = z.object({
  ready: z.boolean(), reason: z.string().optional(),
  state: z.enum(['missing', 'present', 'warming', 'warm']).optional(),
});
export type EngineState = z.infer<typeof EngineState>;
export const Welcome = z.object({
  type: z.literal('welcome'),
  companionVersion: z.string(),
  protocolVersion: z.string(),
  /** Execution providers that work on this machine, and the one jobs use. */
  providers: z.array(z.string()),
  provider: z.string(),
  models: z.array(ModelInfo),
  engine: EngineState,
  limits: LimitsSchema,
  /** Sent when the hello used the install token; the panel keeps it and pairs with it from then on. */
  panelToken: z.string().max(PROTOCOL_MAX.tokenLength).optional(),
  /** This panel's id in `panels` (what `stylestudio token --revoke` takes). */
  panelId: z.string().max(PROTOCOL_MAX.idLength).optional(),
});
export const Accepted = z.object({
  type: z.literal('accepted'),
  requestId: Id,
  jobId: Id,
  /** 0: running now; n: n jobs ahead of it. */
  position: z.number().int().min(0),
});
/** Announces a preview image that follows as one or more FrameKind.preview frames. */
export const PreviewRef = z.object({ transferId: U32, width: Side, height: Side });
export const Progress = z.object({
  type: z.literal('progress'),
  jobId: Id,
  /** Steps completed so far, 1…total, counted over all variations. */
  step: z.number().int().min(0),
  total: z.number().int().min(1),
  /** Which variation is being sampled (0-based). */
  variation: z.number().int().min(0),
  preview: PreviewRef.optional(),
  /** Set while the job waits for a network to load ("loading the UNet"): the first job, or a new size. */
  stage: z.string().max(200).optional(),
});
/** Announces a result image that follows as FrameKind.result frames with this transferId. */
export const Result = z.object({
  type: z.literal('result'),
  jobId: Id,
  index: z.number().int().min(0),
  seed: z.number().int().min(0),
  width: Side,
  height: Side,
  transferId: U32,
});
/** The last message of a job that was not failed: completed, or cancelled by the client. */
export const Done = z.object({ type: z.literal('done'), jobId: Id, outcome: z.enum(['completed', 'cancelled']) });
export const Status = z.object({
  type: z.literal('status'),
  queue: z.object({
    /** Jobs waiting, all clients together (the running one not included). */
    length: z.number().int().min(0),
    max: z.number().int().min(1),
    /** This connection's waiting jobs, with positions as in `accepted`. */
    mine: z.array(z.object({ jobId: Id, position: z.number().int().min(1) })),
  }),
  running: z
    .object({ jobId: Id, mine: z.boolean(), step: z.number().int().min(0), total: z.number().int().min(1) })
    .nullable(),
});
export const ModelsProgress = z.object({
  type: z.literal('models.progress'),
  requestId: Id,
  model: z.string(),
  file: z.string(),
  receivedBytes: z.number().int().min(0),
  totalBytes: z.number().int().min(0),
});
export const ModelsDone = z.object({ type: z.literal('models.done'), requestId: Id, models: z.array(ModelInfo) });
export const Pong = z.object({ type: z.literal('pong'), nonce: z.number().optional() });
export const PanelInfo = z.object({
  id: Id, name: z.string(), version: z.string(), pairedAt: z.string(), lastSeen: z.string(),
  /** True for the panel that asked. */
  self: z.boolean(),
});
export const Panels = z.object({ type: z.literal('panels'), panels: z.array(PanelInfo) });
export const ModelSetInfo = z.object({
  /** What `modelSet.select` takes: 'default', or a checkpoint's name under the model roots. */
  id: z.string().min(1).max(PROTOCOL_MAX.modelSetIdLength),
  /** For people: "Default set (SDXL base + CSGO)", the checkpoint's file name. */
  name: z.string().max(300),
  kind: z.enum(['default', 'checkpoint']),
  /** False when the set cannot run as it is (files missing or unreadable); `reason` says why. */
  usable: z.boolean(),
  reason: z.string().max(1000).optional(),
});
export const ModelSets = z.object({
  type: z.literal('modelSets'),
  /** Echoes `modelSet.select.requestId` when this answers a selection. */
  requestId: Id.optional(),
  current: z.string().min(1).max(PROTOCOL_MAX.modelSetIdLength),
  sets: z.array(ModelSetInfo).max(PROTOCOL_MAX.modelSets),
  /** What the current set needs from the default downloads, and its engine (as in `welcome`). */
  models: z.array(ModelInfo),
  engine: EngineState,
});

/** One preset folder: its content, or why it cannot be read (listed so the user sees why it is not offered). */
export const PresetEntry = z.object({
  name: z.string().max(300),
  preset: StylePreset.optional(),
  problem: z.string().max(1000).optional(),
});
export type PresetEntry = z.infer<typeof PresetEntry>;
export const Presets = z.object({
  type: z.literal('presets'),
  /** Echoes `preset.save` / `preset.delete`'s requestId when this answers one. */
  requestId: Id.optional(),
  presets: z.array(PresetEntry).max(PROTOCOL_MAX.presets),
});
/** A loaded preset; its reference images (and negative style image, if any) follow as FrameKind.reference frames. */
export const PresetLoaded = z.object({
  type: z.literal('preset'),
  requestId: Id,
  preset: StylePreset,
  references: z.array(PreviewRef).min(1).max(16),
  negativeStyle: PreviewRef.optional(),
});

const ErrorCodeSchema = z.enum(ERROR_CODE_LIST as [ErrorCode, ...ErrorCode[]]);
export const ErrorMessage = z.object({
  type: z.literal('error'),
  code: ErrorCodeSchema,
  message: z.string(),
  /** Present only when this error ends that job (a job's last message is `done` or such an error). */
  jobId: Id.optional(),
  /** Echoes `generate.requestId` / `models.pull.requestId` when the request was refused. */
  requestId: Id.optional(),
  /** Present when the error concerns a binary transfer. */
  transferId: U32.optional(),
});

export const ServerMessage = z.discriminatedUnion('type', [
  Welcome, Accepted, Progress, Result, Done, Status, ModelsProgress, ModelsDone, Pong, Panels, ModelSets, Presets, PresetLoaded, ErrorMessage,
]);
export type ServerMessage = z.infer<typeof ServerMessage>;
export type Welcome = z.infer<typeof Welcome>;
export type Accepted = z.infer<typeof Accepted>;
export type Progress = z.infer<typeof Progress>;
export type Result = z.infer<typeof Result>;
export type Done = z.infer<typeof Done>;
export type Status = z.infer<typeof Status>;
export type ModelsProgress = z.infer<typeof ModelsProgress>;
export type ModelsDone = z.infer<typeof ModelsDone>;
export type ErrorMessage = z.infer<typeof ErrorMessage>;
export type Panels = z.infer<typeof Panels>;
export type PanelInfo = z.infer<typeof PanelInfo>;
export type ModelSets = z.infer<typeof ModelSets>;
export type ModelSetInfo = z.infer<typeof ModelSetInfo>;
export type Presets = z.infer<typeof Presets>;
export type PresetLoaded = z.infer<typeof PresetLoaded>;

export type ParseOutcome<T> = { ok: true; message: T } | { ok: false; code: ErrorCode; message: string; requestId?: string };

/** Text frame → checked message, or the stable code and a message naming the offending field. */
function parseWith<T>(schema: z.ZodType<T>, knownTypes: readonly string[], text: string): ParseOutcome<T> {
  if (exceedsJsonDepth(text)) {
    return { ok: false, code: 'BAD_JSON', message: `text frame nests arrays/objects deeper than ${MAX_JSON_DEPTH} levels` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, code: 'BAD_JSON', message: 'text frame is not valid JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, code: 'BAD_MESSAGE', message: 'a message must be a JSON object' };
  }
  const type = (raw as { type?: unknown }).type;
  if (typeof type !== 'string' || !knownTypes.includes(type)) {
    return { ok: false, code: 'UNKNOWN_TYPE', message: `unknown message type ${JSON.stringify(type)?.slice(0, 80) ?? 'undefined'}` };
  }
  const rid = (raw as { requestId?: unknown }).requestId;
  const requestId = typeof rid === 'string' && rid.length > 0 && rid.length <= PROTOCOL_MAX.idLength ? rid : undefined;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : '(message)';
    const message = `${type}: ${where}: ${issue?.message ?? 'invalid'}`;
    return requestId === undefined ? { ok: false, code: 'BAD_MESSAGE', message } : { ok: false, code: 'BAD_MESSAGE', message, requestId };
  }
  return { ok: true, message: parsed.data };
}

export function parseClientMessage(text: string): ParseOutcome<ClientMessage> {
  return parseWith(ClientMessage, CLIENT_MESSAGE_TYPES, text);
}

export const SERVER_MESSAGE_TYPES = [
  'welcome', 'accepted', 'progress', 'result', 'done', 'status', 'models.progress', 'models.done', 'pong', 'panels', 'modelSets', 'presets', 'preset', 'error',
] as const;

export function parseServerMessage(text: string): ParseOutcome<ServerMessage> {
  return parseWith(ServerMessage, SERVER_MESSAGE_TYPES, text);
}

/** Major part of "major.minor". */
export function majorOf(version: string): number {
  return Number.parseInt(version.split('.')[0] ?? '', 10);
}
