/** Everything the user sets in the panel; plain data, kept between generations. */
import { SPEC_DEFAULTS, STRENGTH_DEFAULT, type DropElement } from '../../protocol';

export type AvoidChoice =
  | { readonly kind: 'none' }
  | { readonly kind: 'layer'; readonly layerId: number | null }
  /** Elements of the reference to leave out (one or more, in DROP_ELEMENTS order): a negative derived from it. */
  | { readonly kind: 'drop'; readonly elements: readonly DropElement[] };

export interface Settings {
  /** null: whichever layer is active when Generate is pressed. */
  readonly sourceLayerId: number | null;
  readonly selectionOnly: boolean;
  /** With a selection: generate for its box and mask each result to it (off: fit into the box, unmasked). */
  readonly maskToSelection: boolean;
  readonly avoid: AvoidChoice;
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly adain: boolean;
  /** One style strength 0..1 (the protocol's curve onto adapter scale and AdaIN blend). */
  readonly strength: number;
  readonly teacher: boolean;
  readonly teacherSteps: number;
  readonly guidance: number;
  readonly steps: number;
  readonly variations: number;
  readonly seedMode: 'random' | 'fixed';
  readonly seed: number;
  /** Long side of the generated image; the short side follows the selection's or document's aspect. */
  readonly longSide: number;
  /** More layers whose style to avoid (with "Avoid: the style of a layer"), one per reference slot in order. */
  readonly moreAvoidLayerIds: readonly (number | null)[];
  /** The style layer's weight among several references (relative; no effect alone). */
  readonly styleWeight: number;
  /** More style references: a layer each (null: not chosen yet) with its weight 0..1. */
  readonly moreStyles: readonly { readonly layerId: number | null; readonly weight: number }[];
  /** img2img: the layer to restyle over the output region; null = a new image from noise. */
  readonly restyleLayerId: number | null;
  /** How much of the restyled layer is redrawn, 0..1 (the spec's denoise). */
  readonly denoise: number;
  /** Restyling under a selection masked to it: redraw only inside the selection (inpainting), the rest stays. */
  readonly inpaint: boolean;
}

export const DEFAULT_SETTINGS: Settings = {
  sourceLayerId: null,
  selectionOnly: false,
  maskToSelection: true,
  avoid: { kind: 'none' },
  prompt: '',
  negativePrompt: '',
  adain: true,
  strength: STRENGTH_DEFAULT,
  teacher: true,
  teacherSteps: 20,
  guidance: 5,
  steps: 50,
  variations: 2,
  seedMode: 'random',
  seed: 0,
  longSide: 1024,
  moreAvoidLayerIds: [],
  styleWeight: 1,
  moreStyles: [],
  restyleLayerId: null,
  denoise: SPEC_DEFAULTS.denoise,
  inpaint: false,
};

export const LONG_SIDES = [512, 768, 1024, 1280] as const;
