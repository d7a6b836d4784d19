/**
 * Byte-pair encoding of one word with CLIP's end-of-word marker, matching the `tokenizers` BPE model that
 * transformers' CLIPTokenizer runs (continuing_subword_prefix "", end_of_word_suffix "</w>", no dropout,
 * fuse_unk false): the last symbol of a word carries "</w>", and the adjacent pair with the lowest merge rank is
 * merged first, the leftmost one on ties, until no pair has a rank.
 */

export const END_OF_WORD = '</w>';

/** A symbol pair as a map key: byte-level symbols never contain a space. */
function pairKey(left: string, right: string): string {
  return `${left} ${right}`;
}

/** Entries kept before the word cache is emptied (prompts repeat a few hundred words at most). */
const CACHE_LIMIT = 10_000;

export class BpeModel {
  private readonly ranks: Map<string, number>;
  private readonly cache = new Map<string, number[]>();

  /**
   * @param vocab token -> id (vocab.json)
   * @param merges symbol pairs in rank order (merges.txt); every part and every result must be in `vocab`
   * @param unkId id for a single symbol missing from the vocabulary
   */
  constructor(
    private readonly vocab: ReadonlyMap<string, number>,
    merges: ReadonlyArray<readonly [string, string]>,
    private readonly unkId: number,
  ) {
    this.ranks = new Map();
    // A repeated pair keeps its last rank, as a hash map built from the file does.
    merges.forEach(([left, right], rank) => this.ranks.set(pairKey(left, right), rank));
  }

  /** Ids of one word given as byte-level symbols (one character per UTF-8 byte). */
  encodeWord(symbols: readonly string[]): number[] {
    if (symbols.length === 0) return [];
    const key = symbols.join('');
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;

    const parts = symbols.slice();
    parts[parts.length - 1] += END_OF_WORD;
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < parts.length; i++) {
        const rank = this.ranks.get(pairKey(parts[i]!, parts[i + 1]!));
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      parts.splice(best, 2, parts[best]! + parts[best + 1]!);
    }
    const ids = parts.map((part) => this.vocab.get(part) ?? this.unkId);

    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(key, ids);
    return ids;
  }
}
