/**
 * StableDiffusionXLPipeline.encode_prompt (diffusers 0.40) over our two CLIP graphs, given token ids:
 *   prompt_embeds   = concat(te1.hidden_states[-(clip_skip+2)], te2.hidden_states[-(clip_skip+2)], -1)  (-2 by default)
 *   pooled          = te2.text_embeds
 *   negative        = zeros (embeds and pooled) when negative_prompt is None and force_zeros_for_empty_prompt;
 *                     otherwise the encoded negative, whose hidden states are ALWAYS hidden_states[-2]
 *                     (encode_prompt ignores clip_skip there).
 * Token ids come from the text/ tokenizers: te1 ids from tokenizer(prompt), te2 ids from tokenizer_2(prompt_2 ?? prompt);
 * for negatives, tokenizer(negative_prompt) and tokenizer_2(negative_prompt_2 ?? negative_prompt).
 */
import type { SerializedModel } from '../onnx/graph';
import type { Lowering } from '../onnx/lowering';
import { loweringFor } from '../onnx/lowering';
import { Session, type SessionOptions, type TensorData } from '../onnx/session';
import type { DiffusersFolder, WeightOptions } from '../weights/diffusers';
import { buildClipTextGraph, type ClipTextConfig, normaliseHiddenIndex, openClipText } from './clip-text';
import { codedErrorClass } from '../../protocol';

export interface SdxlPromptIds {
  /** Ids for text_encoder (tokenizer), length 77. */
  readonly te1: readonly number[];
  /** Ids for text_encoder_2 (tokenizer_2), length 77. */
  readonly te2: readonly number[];
}

export interface SdxlEncodeRequest {
  readonly prompt: SdxlPromptIds;
  /** undefined = negative_prompt None (zeros when the model forces them); "" must be tokenized and given. */
  readonly negative?: SdxlPromptIds;
}

/** float32 tensors shaped like diffusers' return values: [1, 77, D1+D2] and [1, projection_dim]. */
export interface SdxlPromptEmbeds {
  readonly promptEmbeds: TensorData;
  readonly negativePromptEmbeds: TensorData;
  readonly pooledPromptEmbeds: TensorData;
  readonly negativePooledPromptEmbeds: TensorData;
}

export interface SdxlTextEncodersOptions extends WeightOptions {
  readonly session?: SessionOptions;
  /**
   * Makes a session from a built graph: the runtime's one recipe (its options, timings, records) when the model set
   * opens the encoders; default Session.create with `session`.
   */
  readonly createSession?: (network: 'text_encoder' | 'text_encoder_2', model: SerializedModel) => Promise<Session>;
  /** Default: loweringFor(session.provider ?? 'cpu'). */
  readonly lowering?: Lowering;
  /** diffusers' clip_skip (undefined = None). */
  readonly clipSkip?: number;
}

interface Encoder {
  readonly name: string;
  readonly config: ClipTextConfig;
  readonly session: Session;
  /** Output name of the hidden state used for prompts and for negatives. */
  readonly promptHidden: string;
  readonly negativeHidden: string;
}

export class TokenIdError extends codedErrorClass('TokenIdError', 'BAD_TOKEN_IDS') {}

export class SdxlTextEncoders {
  private constructor(
    private readonly te1: Encoder,
    private readonly te2: Encoder,
    /** model_index.json force_zeros_for_empty_prompt (the pipeline registers True when absent). */
    readonly forceZerosForEmptyPrompt: boolean,
    /** Weight-choice notes (e.g. fp16 asked but missing) to show the user. */
    readonly notes: readonly string[],
  ) {}

  static async create(folder: DiffusersFolder, options: SdxlTextEncodersOptions = {}): Promise<SdxlTextEncoders> {
    const flag = folder.modelIndex['force_zeros_for_empty_prompt'];
    const forceZeros = flag === undefined ? true : flag === true;
    const lowering = options.lowering ?? loweringFor(options.session?.provider ?? 'cpu');
    const notes: string[] = [];
    const open = async (name: 'text_encoder' | 'text_encoder_2'): Promise<Encoder> => {
      const weights = openClipText(folder.component(name), options.variant ? { variant: options.variant } : {});
      if (weights.note) notes.push(weights.note);
      const layers = weights.config.num_hidden_layers;
      const promptIndex = normaliseHiddenIndex(-((options.clipSkip ?? 0) + 2), layers);
      const negativeIndex = normaliseHiddenIndex(-2, layers);
      const withProjection = name === 'text_encoder_2';
      const built = buildClipTextGraph(weights, {
        lowering,
        hiddenStates: [...new Set([promptIndex, negativeIndex])],
        final: withProjection,
        projection: withProjection,
      });
      const model = built.graph.serialize();
      const session = await (options.createSession ? options.createSession(name, model) : Session.create(model, options.session ?? {}));
      return {
        name,
        config: weights.config,
        session,
        promptHidden: `hidden_states.${promptIndex}`,
        negativeHidden: `hidden_states.${negativeIndex}`,
      };
    };
    const te1 = await open('text_encoder');
    let te2: Encoder;
    try {
      te2 = await open('text_encoder_2');
    } catch (e) {
      await te1.session.release();
      throw e;
    }
    if (te2.config.projection_dim === undefined) {
      await Promise.all([te1.session.release(), te2.session.release()]);
      throw new TokenIdError('text_encoder_2/config.json has no projection_dim: not a CLIPTextModelWithProjection');
    }
    return new SdxlTextEncoders(te1, te2, forceZeros, notes);
  }

  async encode(request: SdxlEncodeRequest): Promise<SdxlPromptEmbeds> {
    const negative = request.negative;
    if (negative === undefined && !this.forceZerosForEmptyPrompt) {
      // negative_prompt None without force_zeros_for_empty_prompt: diffusers encodes "", so the caller tokenizes it.
      throw new TokenIdError('negative ids are required when the model does not force zeros for an empty negative prompt (tokenize "")');
    }
    const zeroNegative = negative === undefined;
    const rows: SdxlPromptIds[] = negative === undefined ? [request.prompt] : [request.prompt, negative];
    const run = async (e: Encoder, pick: (ids: SdxlPromptIds) => readonly number[]) => {
      const seq = e.config.max_position_embeddings;
      const data = new BigInt64Array(rows.length * seq);
      rows.forEach((r, row) => {
        const ids = pick(r);
        if (ids.length !== seq) throw new TokenIdError(`${e.name}: expected ${seq} token ids, got ${ids.length}`);
        ids.forEach((id, i) => {
          if (!Number.isInteger(id) || id < 0 || id >= e.config.vocab_size) {
            throw new TokenIdError(`${e.name}: token id ${id} at position ${i} is outside the vocabulary (size ${e.config.vocab_size})`);
          }
          data[row * seq + i] = BigInt(id);
        });
      });
      return e.session.run({ input_ids: { dtype: 'int64', dims: [rows.length, seq], data } });
    };
    const [o1, o2] = await Promise.all([run(this.te1, (r) => r.te1), run(this.te2, (r) => r.te2)]);
    const embeds = (row: number, h1: string, h2: string) => concatLast(rowOf(o1[h1]!, row), rowOf(o2[h2]!, row));
    const promptEmbeds = embeds(0, this.te1.promptHidden, this.te2.promptHidden);
    const pooledPromptEmbeds = rowOf(o2['text_embeds']!, 0);
    if (zeroNegative) {
      return {
        promptEmbeds,
        pooledPromptEmbeds,
        negativePromptEmbeds: zerosLike(promptEmbeds),
        negativePooledPromptEmbeds: zerosLike(pooledPromptEmbeds),
      };
    }
    return {
      promptEmbeds,
      pooledPromptEmbeds,
      negativePromptEmbeds: embeds(1, this.te1.negativeHidden, this.te2.negativeHidden),
      negativePooledPromptEmbeds: rowOf(o2['text_embeds']!, 1),
    };
  }

  async release(): Promise<void> {
    await Promise.all([this.te1.session.release(), this.te2.session.release()]);
  }
}

/** Row `row` of a batch-first float32 tensor, keeping a leading 1. */
function rowOf(t: TensorData, row: number): TensorData {
  const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
  const data = (t.data as Float32Array).slice(row * per, (row + 1) * per);
  return { dtype: 'float32', dims: [1, ...t.dims.slice(1)], data };
}

/** Concatenation along the last axis of two [1, S, D] tensors. */
function concatLast(a: TensorData, b: TensorData): TensorData {
  const s = a.dims[1]!;
  const da = a.dims[2]!;
  const db = b.dims[2]!;
  const out = new Float32Array(s * (da + db));
  const av = a.data as Float32Array;
  const bv = b.data as Float32Array;
  for (let i = 0; i < s; i++) {
    out.set(av.subarray(i * da, (i + 1) * da), i * (da + db));
    out.set(bv.subarray(i * db, (i + 1) * db), i * (da + db) + da);
  }
  return { dtype: 'float32', dims: [1, s, da + db], data: out };
}

function zerosLike(t: TensorData): TensorData {
  return { dtype: 'float32', dims: [...t.dims], data: new Float32Array(t.data.length) };
}
