/**
 * The CLIP BPE tokenizer of SDXL's `tokenizer/` and `tokenizer_2/` folders, giving the ids of transformers 5's
 * `CLIPTokenizer` (the `tokenizers`-backed class; there is no slow/ftfy variant any more):
 *   1. added tokens matched in the raw text (normalized=false, e.g. tokenizer_2's pad "!": every "!" becomes id 0);
 *   2. normalisation (NFC, whitespace runs -> " ", lowercase), then added tokens matched in the normalized text;
 *   3. CLIP word splitting, UTF-8 byte-level symbols, BPE with "</w>";
 *   4. BOS + ids + EOS; with a length: truncation to length-2 content ids (EOS stays last), right padding with the
 *      folder's pad id (SDXL: "<|endoftext|>" for tokenizer/, "!" = 0 for tokenizer_2/).
 */
import { BpeModel } from './bpe';
import { toByteSymbols } from './byte-level';
import { normalizeClipText, splitClipWords } from './clip-pretokenizer';
import { AddedToken, readTokenizerFolder, TokenizerFolder } from './tokenizer-folder';

export { TokenizerFileError } from './tokenizer-folder';
export type { AddedToken } from './tokenizer-folder';

/** A piece of text still to tokenize, or an added token already resolved to its id. */
type Segment = string | number;

/**
 * Split `text` on `tokens`, leftmost match first and the longest token on ties (the `tokenizers` AddedVocabulary
 * uses leftmost-longest Aho-Corasick). Empty text pieces are dropped.
 */
function splitOnTokens(text: string, tokens: readonly AddedToken[]): Segment[] {
  if (tokens.length === 0) return text === '' ? [] : [text];
  const out: Segment[] = [];
  let start = 0;
  let i = 0;
  while (i < text.length) {
    let match: AddedToken | undefined;
    for (const token of tokens) {
      if ((match === undefined || token.content.length > match.content.length) && text.startsWith(token.content, i)) {
        match = token;
      }
    }
    if (match === undefined) {
      i++;
      continue;
    }
    if (i > start) out.push(text.slice(start, i));
    out.push(match.id);
    i += match.content.length;
    start = i;
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number;
  /** The pad token's text ("<|endoftext|>" or "!" in SDXL). */
  readonly padToken: string;
  /** From tokenizer_config.json (77 for CLIP); null when the folder sets none. */
  readonly modelMaxLength: number | null;
  /** Number of entries in vocab.json. */
  readonly vocabSize: number;
  readonly folder: string;

  private readonly bpe: BpeModel;
  private readonly rawTokens: AddedToken[];
  private readonly normalizedTokens: AddedToken[];

  private constructor(files: TokenizerFolder) {
    this.folder = files.folder;
    this.bosId = files.bos.id;
    this.eosId = files.eos.id;
    this.padId = files.pad.id;
    this.unkId = files.unk.id;
    this.padToken = files.pad.content;
    this.modelMaxLength = files.modelMaxLength;
    this.vocabSize = files.vocab.size;
    this.bpe = new BpeModel(files.vocab, files.merges, files.unk.id);
    this.rawTokens = files.addedTokens.filter((t) => !t.normalized);
    // A normalized token is looked for in its normalized form.
    this.normalizedTokens = files.addedTokens
      .filter((t) => t.normalized)
      .map((t) => ({ ...t, content: normalizeClipText(t.content) }))
      .filter((t) => t.content !== '');
  }

  /** Load `tokenizer/` or `tokenizer_2/` of a diffusers folder; throws TokenizerFileError naming the bad file. */
  static async fromFolder(folder: string): Promise<ClipTokenizer> {
    return new ClipTokenizer(await readTokenizerFolder(folder));
  }

  /** Token ids of `text` without BOS/EOS, untruncated. */
  encodeTokens(text: string): number[] {
    const ids: number[] = [];
    for (const raw of splitOnTokens(text, this.rawTokens)) {
      if (typeof raw === 'number') {
        ids.push(raw);
        continue;
      }
      for (const piece of splitOnTokens(normalizeClipText(raw), this.normalizedTokens)) {
        if (typeof piece === 'number') {
          ids.push(piece);
          continue;
        }
        for (const word of splitClipWords(piece)) ids.push(...this.bpe.encodeWord(toByteSymbols(word)));
      }
    }
    return ids;
  }

  /** `tokenizer(text).input_ids`: BOS + ids + EOS, no truncation, no padding. */
  encode(text: string): number[] {
    return [this.bosId, ...this.encodeTokens(text), this.eosId];
  }

  /**
   * `tokenizer(text, padding="max_length", max_length=maxLength, truncation=True).input_ids`: exactly `maxLength`
   * ids, BOS first, at most maxLength-2 text ids, then EOS, then the pad id.
   */
  encodePadded(text: string, maxLength: number = this.requireModelMaxLength()): Int32Array {
    if (!Number.isInteger(maxLength) || maxLength < 2) {
      throw new RangeError(`encodePadded: maxLength must be an integer >= 2 (room for BOS and EOS), got ${maxLength}`);
    }
    const tokens = this.encodeTokens(text);
    const kept = Math.min(tokens.length, maxLength - 2);
    const ids = new Int32Array(maxLength).fill(this.padId);
    ids[0] = this.bosId;
    for (let i = 0; i < kept; i++) ids[i + 1] = tokens[i]!;
    ids[kept + 1] = this.eosId;
    return ids;
  }

  /** encodePadded as int64, the dtype of CLIP text encoders' `input_ids`. */
  encodePaddedInt64(text: string, maxLength: number = this.requireModelMaxLength()): BigInt64Array {
    return BigInt64Array.from(this.encodePadded(text, maxLength), (id) => BigInt(id));
  }

  private requireModelMaxLength(): number {
    if (this.modelMaxLength === null) {
      throw new Error(`${this.folder}: tokenizer_config.json sets no model_max_length; pass maxLength explicitly`);
    }
    return this.modelMaxLength;
  }
}
