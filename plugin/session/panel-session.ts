import type { CompanionClient, ConnectionState, DownloadProgress, JobHandle, JobOutcome, NegativeStyleInput } from '../client/companion-client';
import { outputSizeFor } from '../host/geometry';
import type { Bounds, DocumentInfo, DocumentState, Host, RgbaImage, ResultImage, SelectionMask } from '../host/host';
import { HostError } from '../host/host';
import { SIZE_STRIDE, type ModelSets, type PresetEntry, type StylePreset } from '../../protocol';
import { DEFAULT_SETTINGS, type Settings } from './settings';
import { downscale } from './thumbnails';
import { modelSetNote, presetFromSettings, settingsFromPreset, withPresetParams } from './presets';

export type Companion = Pick<CompanionClient,
  'state' | 'subscribe' | 'connect' | 'disconnect' | 'submit' | 'pullModels' | 'modelSets' | 'subscribeModelSets' | 'selectModelSet' |
  'presets' | 'subscribePresets' | 'savePreset' | 'loadPreset' | 'deletePreset'>;

export type JobPhase = 'reading' | 'uploading' | 'queued' | 'running' | 'inserting';

export interface JobView {
  readonly phase: JobPhase;
  /** Jobs ahead in the companion's queue (when queued). */
  readonly position: number;
  readonly step: number;
  readonly total: number;
  readonly previewUrl: string | null;
  /** What the companion is loading before the steps go on ("loading the UNet"), or null. */
  readonly stage: string | null;
  readonly received: number;
  readonly variations: number;
  readonly cancelling: boolean;
}

export interface ResultView {
  readonly id: string;
  readonly prompt: string;
  readonly seed: number;
  readonly width: number;
  readonly height: number;
  readonly thumbnailUrl: string;
  readonly inserted: boolean;
  /** Full pixels are kept for the most recent results only. */
  readonly canReinsert: boolean;
}

export interface Notice {
  readonly kind: 'error' | 'info';
  readonly text: string;
}

export interface PanelState {
  readonly connection: ConnectionState;
  readonly hasToken: boolean;
  readonly document: DocumentState;
  readonly settings: Settings;
  readonly job: JobView | null;
  readonly results: readonly ResultView[];
  readonly notice: Notice | null;
  /** Model download in progress (null when none); `started` before the first progress message. */
  readonly download: (DownloadProgress & { readonly started: true }) | { readonly started: false } | null;
  /** The companion's model sets (default set, checkpoints under its model roots) and the current one; null until listed. */
  readonly modelSets: ModelSets | null;
  /** A model set switch waiting for the companion's answer. */
  readonly switchingSet: boolean;
  /** The companion's style presets; null until listed. */
  readonly presets: readonly PresetEntry[] | null;
  /** The applied preset whose reference image is the style source, until a layer is picked again. */
  readonly presetSource: PresetSourceView | null;
  /** A preset save or load waiting for the companion's answer. */
  readonly presetBusy: boolean;
}

export interface PresetSourceView {
  readonly name: string;
  readonly thumbnailUrl: string;
  /** The preset carries a negative style image, used while nothing else is chosen to avoid. */
  readonly negative: boolean;
}

/** Most results whose full pixels stay in memory for "insert again"; older ones keep only a thumbnail. */
export const KEPT_RESULTS = 8;
/** Most results listed; older entries leave the list and their thumbnails are released. */
export const LISTED_RESULTS = 48;
const THUMBNAIL_SIDE = 160;
/** Style references need no more than this (CLIP sees 224²); Photoshop downsamples larger layers on read. */
const STYLE_READ_SIDE = 1024;

/** Where a job's results go, fixed when Generate is pressed. */
interface Destination {
  readonly documentId: number;
  readonly target: Bounds;
  /** The selection captured at submit when results are masked to it. */
  readonly mask: SelectionMask | null;
  readonly aboveLayerId: number | null;
}

interface Kept {
  view: ResultView;
  image: RgbaImage | null;
  readonly destination: Destination;
}

/** A selection's coverage as an opaque grey RGBA image of its box (white = selected). */
function greyImage(mask: SelectionMask): RgbaImage {
  const width = mask.bounds.right - mask.bounds.left;
  const height = mask.bounds.bottom - mask.bounds.top;
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set([mask.alpha[i]!, mask.alpha[i]!, mask.alpha[i]!, 255], i * 4);
  return { width, height, data };
}

/** Whether results will be masked to the document's selection: there is one, and the option is on. */
function masksToSelection(doc: DocumentInfo, settings: Settings): boolean {
  return doc.selection !== null && settings.maskToSelection;
}

/**
 * Output size for the region a job fills and the long-side setting. Masked jobs cover the selection's box, so they
 * follow its aspect as closely as the engine allows (its stride); others keep the coarser 64 px grid.
 */
function sizeFor(region: Bounds, longSide: number, masked: boolean): { width: number; height: number } {
  return masked ? outputSizeFor(region, longSide, SIZE_STRIDE) : outputSizeFor(region, longSide);
}

/** Short group and layer names from the prompt (Photoshop layer names are best kept short). */
export function shortName(prompt: string, max = 48): string {
  const oneLine = prompt.replace(/\s+/g, ' ').trim();
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}

function failureText(outcome: Extract<JobOutcome, { kind: 'failed' }>): string {
  switch (outcome.code) {
    case 'MODELS_MISSING':
      return `${outcome.message} Run \`stylestudio models pull\` in a terminal, then try again.`;
    case 'QUEUE_FULL':
      return 'The companion\'s queue is full. Wait for a job to finish, then try again.';
    case 'DISCONNECTED':
    case 'NOT_CONNECTED':
      return outcome.message;
    default:
      return `The companion could not run this job (${outcome.code}): ${outcome.message}`;
  }
}

/**
 * The panel's behaviour without any UI: pairing, reading the style from the host, submitting through
 * the companion client, following progress, and inserting results as one history step. The UI renders
 * `state` and calls the methods; nothing here touches Photoshop or sockets directly.
 */
export class PanelSession {
  private current: PanelState;
  private readonly listeners = new Set<() => void>();
  private readonly kept: Kept[] = [];
  private handle: JobHandle | null = null;
  private nextResult = 1;
  private unsubscribe: (() => void) | null = null;
  private unsubscribeSets: (() => void) | null = null;
  private stopWatching: (() => void) | undefined;
  private unsubscribePresets: (() => void) | null = null;
  /** The applied preset and its images (the style source while `presetSource` is set). */
  private applied: { readonly preset: StylePreset; readonly references: readonly { readonly image: RgbaImage; readonly weight: number }[]; readonly negative?: RgbaImage } | null = null;

  constructor(
    private readonly host: Host,
    private readonly companion: Companion,
    settings: Settings = DEFAULT_SETTINGS,
    private readonly listedResults: number = LISTED_RESULTS,
  ) {
    this.current = {
      connection: companion.state,
      hasToken: false,
      document: { kind: 'none' },
      settings,
      job: null,
      results: [],
      notice: null,
      download: null,
      modelSets: companion.modelSets,
      switchingSet: false,
      presets: companion.presets,
      presetSource: null,
      presetBusy: false,
    };
  }

  get state(): PanelState {
    return this.current;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private set(patch: Partial<PanelState>): void {
    this.current = { ...this.current, ...patch };
    for (const l of [...this.listeners]) l();
  }

  private setJob(patch: Partial<JobView>): void {
    if (this.current.job) this.set({ job: { ...this.current.job, ...patch } });
  }

  /** Connects with the stored token, if any, and reads the document. Returns at once (UXP's setup has 300 ms). */
  async start(): Promise<void> {
    this.unsubscribe = this.companion.subscribe((connection) => {
      this.set({ connection });
      if (connection.kind === 'ready' && connection.welcome.panelToken) void this.keepPanelToken(connection.welcome.panelToken);
    });
    this.unsubscribeSets = this.companion.subscribeModelSets((modelSets) => this.set({ modelSets }));
    this.unsubscribePresets = this.companion.subscribePresets((presets) => this.set({ presets }));
    this.stopWatching = this.host.watchDocument?.(() => {
      if (!this.current.job) void this.refreshDocument();
    });
    let token: string | null = null;
    try {
      token = await this.host.tokens.load();
    } catch (err) {
      this.set({ notice: { kind: 'info', text: `No stored pairing token could be read: ${messageOf(err)}. Paste the token that \`stylestudio serve\` prints to pair.` } });
    }
    if (token) {
      this.set({ hasToken: true });
      this.companion.connect(token);
    }
    await this.refreshDocument();
  }

  /**
   * The companion answered the install token with this panel's own token: keep that one instead, so this panel
   * can be revoked on its own (`stylestudio token --revoke`). If storage fails the install token stays.
   */
  private async keepPanelToken(token: string): Promise<void> {
    try {
      await this.host.tokens.save(token);
    } catch (err) {
      this.set({ notice: { kind: 'error', text: `Paired, but ${messageOf(err)}; you may have to paste the token again next time.` } });
    }
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribeSets?.();
    this.unsubscribePresets?.();
    this.stopWatching?.();
    this.companion.disconnect();
  }

  async pair(token: string): Promise<void> {
    const trimmed = token.trim();
    if (!trimmed) {
      this.set({ notice: { kind: 'error', text: 'Paste the token that `stylestudio serve` printed.' } });
      return;
    }
    let notice: Notice | null = null;
    try {
      await this.host.tokens.save(trimmed);
    } catch (err) {
      notice = { kind: 'error', text: `Paired for now, but ${messageOf(err)}; you will have to paste the token again next time.` };
    }
    this.set({ hasToken: true, notice });
    this.companion.connect(trimmed);
  }

  async forgetToken(): Promise<void> {
    this.companion.disconnect();
    try {
      await this.host.tokens.clear();
      this.set({ hasToken: false });
    } catch (err) {
      this.set({ hasToken: false, notice: { kind: 'error', text: `Disconnected, but ${messageOf(err)}; it may be used again at the next start.` } });
    }
  }

  async refreshDocument(): Promise<void> {
    const document = await this.host.documentState();
    this.set({ document });
  }

  update(patch: Partial<Settings>): void {
    if ('sourceLayerId' in patch) this.dropPreset(); // picking a layer again ends the preset's style source
    this.set({ settings: { ...this.current.settings, ...patch } });
  }

  /** Loads a preset: its settings become the panel's, its reference image the style source. */
  async applyPreset(name: string): Promise<void> {
    if (this.current.presetBusy || this.current.job) return;
    this.set({ presetBusy: true, notice: null });
    try {
      const loaded = await this.companion.loadPreset(name);
      this.dropPreset();
      const reference = loaded.references[0]!;
      const references = loaded.references.map((image, i) => ({ image, weight: loaded.preset.references[i]!.weight }));
      this.applied = { preset: loaded.preset, references, ...(loaded.negative !== undefined ? { negative: loaded.negative } : {}) };
      const note = modelSetNote(loaded.preset, this.current.modelSets);
      this.set({
        presetBusy: false,
        // the preset's references replace the panel's extra ones while it is the style source
        settings: { ...settingsFromPreset(loaded.preset, this.current.settings), moreStyles: [] },
        presetSource: { name: loaded.preset.name, thumbnailUrl: this.host.imageUrls.create(downscale(reference, THUMBNAIL_SIDE)), negative: loaded.negative !== undefined },
        notice: note === null ? null : { kind: 'info', text: note },
      });
    } catch (err) {
      this.set({ presetBusy: false, notice: { kind: 'error', text: `The preset was not applied: ${messageOf(err)}` } });
    }
  }

  /** Saves the style source, what to avoid and the options as preset `name` (an existing one only with `overwrite`). */
  async savePreset(name: string, overwrite: boolean): Promise<boolean> {
    const connection = this.current.connection;
    if (this.current.presetBusy) return false;
    if (connection.kind !== 'ready') {
      this.set({ notice: { kind: 'error', text: 'Not connected to the companion yet. See the connection status above.' } });
      return false;
    }
    this.set({ presetBusy: true, notice: null });
    try {
      const { style, extraStyles, styleWeight, negativeStyle, size } = await this.prepare(this.current.settings, connection.welcome.limits.maxImageSide);
      if (negativeStyle.kind === 'image' && negativeStyle.more !== undefined) throw new HostError('A preset keeps one layer to avoid: remove the others, then save.');
      const { settings, seed } = presetFromSettings(this.current.settings, size, this.applied?.preset);
      await this.companion.savePreset(name.trim(), {
        references: [{ image: style, weight: styleWeight }, ...extraStyles],
        elements: negativeStyle.kind === 'image' ? { kind: 'image', image: negativeStyle.image } : negativeStyle.kind === 'drop' ? { kind: 'drop', preset: negativeStyle.preset } : { kind: 'none' },
        settings, seed,
      }, overwrite);
      this.set({ presetBusy: false, notice: { kind: 'info', text: `Saved preset “${name.trim()}”.` } });
      return true;
    } catch (err) {
      this.set({ presetBusy: false, notice: { kind: 'error', text: `The preset was not saved: ${err instanceof HostError ? err.message : messageOf(err)}` } });
      return false;
    }
  }

  /** Deletes preset `name` on the companion; if it is the applied one, the style source goes back to the layers. */
  async deletePreset(name: string): Promise<void> {
    if (this.current.presetBusy) return;
    this.set({ presetBusy: true, notice: null });
    try {
      await this.companion.deletePreset(name);
      if (this.applied?.preset.name === name) this.dropPreset();
      this.set({ presetBusy: false, notice: { kind: 'info', text: `Deleted preset “${name}”.` } });
    } catch (err) {
      this.set({ presetBusy: false, notice: { kind: 'error', text: `The preset was not deleted: ${messageOf(err)}` } });
    }
  }

  private dropPreset(): void {
    const view = this.current.presetSource;
    this.applied = null;
    if (view === null) return;
    this.host.imageUrls.release(view.thumbnailUrl);
    this.set({ presetSource: null });
  }

  /** Asks the companion to fetch its missing models; progress shows in `download`. */
  downloadModels(): void {
    if (this.current.download) return;
    this.set({ download: { started: false }, notice: null });
    this.companion.pullModels({
      progress: (p) => this.set({ download: { ...p, started: true } }),
      end: (outcome) =>
        this.set({
          download: null,
          notice: outcome.kind === 'completed' ? { kind: 'info', text: 'Models downloaded.' } : { kind: 'error', text: `The model download failed: ${outcome.message}` },
        }),
    });
  }

  /** Switches the companion to another model set (refused while a job runs: the notice says why). */
  async selectModelSet(id: string): Promise<void> {
    if (this.current.switchingSet || this.current.modelSets?.current === id) return;
    this.set({ switchingSet: true, notice: null });
    try {
      await this.companion.selectModelSet(id);
      this.set({ switchingSet: false });
    } catch (err) {
      this.set({ switchingSet: false, notice: { kind: 'error', text: `The model set did not change: ${messageOf(err)}` } });
    }
  }

  dismissNotice(): void {
    this.set({ notice: null });
  }

  /** Output size for the current document/selection and long-side setting, or null without a document. */
  outputSize(maxSide = Infinity): { width: number; height: number } | null {
    const doc = this.current.document;
    if (doc.kind !== 'ready') return null;
    const region = doc.doc.selection ?? { left: 0, top: 0, right: doc.doc.width, bottom: doc.doc.height };
    return sizeFor(region, Math.min(this.current.settings.longSide, maxSide), masksToSelection(doc.doc, this.current.settings));
  }

  async generate(): Promise<void> {
    if (this.current.job) return;
    const s = this.current.settings;
    const connection = this.current.connection;
    if (connection.kind !== 'ready') {
      this.set({ notice: { kind: 'error', text: 'Not connected to the companion yet. See the connection status above.' } });
      return;
    }
    if (!s.prompt.trim()) {
      this.set({ notice: { kind: 'error', text: 'Type a prompt describing what to generate.' } });
      return;
    }
    this.set({ notice: null, job: { phase: 'reading', position: 0, step: 0, total: 0, previewUrl: null, stage: null, received: 0, variations: s.variations, cancelling: false } });
    let prepared;
    try {
      prepared = await this.prepare(s, connection.welcome.limits.maxImageSide);
    } catch (err) {
      this.endJob({ kind: 'error', text: err instanceof HostError ? err.message : `Reading the document failed: ${(err as Error).message}` });
      return;
    }
    const { destination, style, extraStyles, styleWeight, negativeStyle, size, init, inpaintMask } = prepared;
    const received: ResultImage[] = [];
    this.setJob({ phase: 'uploading' });
    const prompt = s.prompt.trim();
    this.handle = await this.companion.submit(
      {
        params: withPresetParams({
          prompt,
          ...(s.negativePrompt.trim() ? { negativePrompt: s.negativePrompt.trim() } : {}),
          crossModalAdain: s.adain,
          strength: s.strength,
          teacherSteps: s.teacher ? Math.min(s.teacherSteps, s.steps) : null,
          guidance: s.guidance,
          steps: s.steps,
          variations: s.variations,
          seed: s.seedMode === 'fixed' ? s.seed : null,
          width: size.width,
          height: size.height,
          ...(init ? { denoise: s.denoise } : {}),
          ...(extraStyles.length > 0 ? { styleWeight } : {}),
        }, this.applied?.preset),
        style,
        ...(extraStyles.length > 0 ? { extraStyles } : {}),
        negativeStyle,
        ...(init ? { init } : {}),
        ...(inpaintMask ? { mask: inpaintMask } : {}),
      },
      {
        accepted: (_jobId, position) => this.setJob({ phase: position > 0 ? 'queued' : 'running', position }),
        progress: (p) => {
          const old = this.current.job?.previewUrl ?? null;
          const previewUrl = p.preview ? this.host.imageUrls.create(p.preview) : old;
          if (p.preview && old) this.host.imageUrls.release(old);
          this.setJob({ phase: 'running', step: p.step, total: p.total, previewUrl, stage: p.stage });
        },
        result: (r) => {
          received.push({ seed: r.seed, image: r.image });
          this.addResult(prompt, r.seed, r.image, destination);
          this.setJob({ received: received.length });
        },
        end: (outcome) => void this.finish(outcome, prompt, destination, received),
      },
    );
  }

  private async prepare(s: Settings, maxImageSide: number) {
    const state = await this.host.documentState();
    this.set({ document: state });
    if (state.kind === 'none') throw new HostError('Open a document and choose a layer to take the style from.');
    if (state.kind === 'unsupported') throw new HostError(state.reason);
    const doc = state.doc;
    const sourceLayerId = s.sourceLayerId ?? doc.activeLayerId;
    const applied = this.applied;
    const exists = (layerId: number) => doc.layers.some((l) => l.id === layerId);
    if (sourceLayerId === null && applied === null) throw new HostError('Select a layer to take the style from.');
    const readSide = Math.min(STYLE_READ_SIDE, maxImageSide);
    // an applied preset's references are the style source (and its negative image what to avoid, unless something else is chosen)
    const style = applied?.references[0]!.image
      ?? (await this.host.readLayer({ documentId: doc.id, layerId: sourceLayerId!, selectionOnly: s.selectionOnly, maxSide: readSide })).image;
    const styleWeight = applied?.references[0]!.weight ?? s.styleWeight;
    const extraStyles: { image: RgbaImage; weight: number }[] = applied !== null ? [...applied.references.slice(1)] : [];
    for (const more of applied !== null ? [] : s.moreStyles) {
      if (more.layerId === null) throw new HostError('Choose a layer for each added style reference, or remove the empty one.');
      if (!exists(more.layerId)) throw new HostError('An added style reference\'s layer no longer exists. Choose another one, or remove it.');
      const read = await this.host.readLayer({ documentId: doc.id, layerId: more.layerId, selectionOnly: s.selectionOnly, maxSide: readSide });
      extraStyles.push({ image: read.image, weight: more.weight });
    }
    if (extraStyles.length > 0 && styleWeight === 0 && extraStyles.every((e) => e.weight === 0)) {
      throw new HostError('Every style reference has weight 0: give at least one a weight above 0.');
    }
    let negativeStyle: NegativeStyleInput = applied?.negative !== undefined ? { kind: 'image', image: applied.negative } : { kind: 'none' };
    if (s.avoid.kind === 'drop') negativeStyle = { kind: 'drop', preset: s.avoid.elements.length === 1 ? s.avoid.elements[0]! : [...s.avoid.elements] };
    if (s.avoid.kind === 'layer') {
      if (s.avoid.layerId === null) throw new HostError('Choose the layer whose style to avoid, or set “Avoid” to None.');
      const avoid = await this.host.readLayer({ documentId: doc.id, layerId: s.avoid.layerId, selectionOnly: false, maxSide: readSide });
      const more: RgbaImage[] = [];
      for (const layerId of s.moreAvoidLayerIds) {
        if (layerId === null || !exists(layerId)) throw new HostError('Choose a layer for each added layer to avoid, or remove the empty one.');
        more.push((await this.host.readLayer({ documentId: doc.id, layerId, selectionOnly: false, maxSide: readSide })).image);
      }
      negativeStyle = { kind: 'image', image: avoid.image, ...(more.length > 0 ? { more } : {}) };
    }
    // Captured now: the user may select something else while the job runs.
    const mask = masksToSelection(doc, s) ? await this.host.readSelection(doc.id) : null;
    const target = mask?.bounds ?? doc.selection ?? { left: 0, top: 0, right: doc.width, bottom: doc.height };
    const size = sizeFor(target, Math.min(s.longSide, maxImageSide), mask !== null);
    const destination: Destination = { documentId: doc.id, target, mask, aboveLayerId: sourceLayerId };
    let init: RgbaImage | undefined;
    if (s.restyleLayerId !== null) {
      if (!exists(s.restyleLayerId)) throw new HostError('The layer to restyle no longer exists. Choose another one, or “Nothing”.');
      // exactly the results' region, read at the output's long side: the companion fits it to the output size
      const read = await this.host.readLayer({
        documentId: doc.id, layerId: s.restyleLayerId, selectionOnly: false, region: target, maxSide: Math.min(maxImageSide, Math.max(size.width, size.height)),
      });
      init = read.image;
    }
    // inpainting: the captured selection (its coverage over the box) as the spec's mask; the companion fits it like init
    const inpaintMask = init !== undefined && s.inpaint && mask !== null ? greyImage(mask) : undefined;
    return { destination, style, extraStyles, styleWeight, negativeStyle, size, init, inpaintMask };
  }

  cancel(): void {
    if (!this.current.job || !this.handle) return;
    this.setJob({ cancelling: true });
    this.handle.cancel();
  }

  private addResult(prompt: string, seed: number, image: RgbaImage, destination: Destination): void {
    const view: ResultView = {
      id: `result-${this.nextResult++}`,
      prompt,
      seed,
      width: image.width,
      height: image.height,
      thumbnailUrl: this.host.imageUrls.create(downscale(image, THUMBNAIL_SIDE)),
      inserted: false,
      canReinsert: true,
    };
    this.kept.unshift({ view, image, destination });
    // Bound memory: only the newest results keep their full pixels.
    this.kept.forEach((k, i) => {
      if (i >= KEPT_RESULTS) k.image = null;
    });
    for (const dropped of this.kept.splice(this.listedResults)) this.host.imageUrls.release(dropped.view.thumbnailUrl);
    this.publishResults();
  }

  private publishResults(inserted: ReadonlySet<string> = new Set()): void {
    const results = this.kept.map((k) => {
      k.view = { ...k.view, canReinsert: k.image !== null, inserted: k.view.inserted || inserted.has(k.view.id) };
      return k.view;
    });
    this.set({ results });
  }

  private async finish(
    outcome: JobOutcome,
    prompt: string,
    destination: Destination,
    received: ResultImage[],
  ): Promise<void> {
    this.handle = null;
    if (outcome.kind === 'failed') {
      this.endJob({ kind: 'error', text: failureText(outcome) });
      return;
    }
    if (outcome.kind === 'cancelled') {
      this.endJob({ kind: 'info', text: received.length > 0 ? 'Cancelled. Results that arrived are listed below; insert them from there.' : 'Cancelled.' });
      return;
    }
    if (received.length === 0) {
      this.endJob({ kind: 'error', text: 'The companion finished without sending any image.' });
      return;
    }
    this.setJob({ phase: 'inserting' });
    try {
      // The insert's one modal scope: short, after the GPU work is over.
      await this.insert(prompt, destination, received);
      const ids = new Set(this.kept.slice(0, received.length).map((k) => k.view.id));
      this.publishResults(ids);
      this.endJob(null);
    } catch (err) {
      this.endJob({ kind: 'error', text: err instanceof HostError ? err.message : `Inserting failed: ${(err as Error).message}` });
    }
  }

  private insert(prompt: string, d: Destination, results: readonly ResultImage[]): Promise<unknown> {
    return this.host.insertResults({
      documentId: d.documentId, groupName: shortName(prompt), layerPrefix: shortName(prompt, 32),
      target: d.target, mask: d.mask, aboveLayerId: d.aboveLayerId, results,
    });
  }

  private endJob(notice: Notice | null): void {
    const preview = this.current.job?.previewUrl;
    if (preview) this.host.imageUrls.release(preview);
    this.set({ job: null, notice });
  }

  async reinsert(resultId: string): Promise<void> {
    const k = this.kept.find((x) => x.view.id === resultId);
    if (!k || !k.image) {
      this.set({ notice: { kind: 'error', text: 'This result is no longer in memory. Use its seed to generate it again.' } });
      return;
    }
    try {
      await this.insert(k.view.prompt, k.destination, [{ seed: k.view.seed, image: k.image }]);
      this.publishResults(new Set([k.view.id]));
    } catch (err) {
      this.set({ notice: { kind: 'error', text: err instanceof HostError ? err.message : (err as Error).message } });
    }
  }

  reuseSeed(resultId: string): void {
    const k = this.kept.find((x) => x.view.id === resultId);
    if (k) this.update({ seedMode: 'fixed', seed: k.view.seed });
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
