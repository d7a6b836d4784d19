#!/usr/bin/env python3
"""Fixtures for the CLIP tokenizer (companion/text/).

Three jobs, all offline except the one `pip download` of the open-clip-torch wheel:

  vocab    Rebuild the real 49,408-token CLIP vocabulary in the Hugging Face layout (vocab.json + merges.txt)
           from `bpe_simple_vocab_16e6.txt.gz` inside the open-clip-torch wheel, and store it gzipped in
           test/fixtures/clip-vocab/ together with the SDXL tokenizer/ and tokenizer_2/ config files.
  unicode  Write companion/text/unicode-classes.ts: the code points that the `tokenizers` regex engine (Oniguruma)
           treats as \\s, \\p{L} and \\p{N}, and those its NFC can change or move. transformers' CLIPTokenizer uses
           these; Node follows newer Unicode versions (its \\p{L} differs on ~4,600 code points, its NFC reorders and
           composes marks added since Unicode 9), so the TypeScript side uses these tables instead.
  goldens  Run transformers.CLIPTokenizer on the prompts below with the tiny golden vocabularies (copied from
           ../shared/golden/sdxl-tiny into test/fixtures/sdxl-tiny/) and with the real vocabulary, and write
           test/fixtures/text/clip-tokenizer-goldens.json.

Usage (from the repository root, with the venv of tools/golden/README.md):
  python tools/golden/tokenizer.py all [--golden-dir ../shared/golden] [--wheel-dir /tmp/open-clip-wheel]
"""
from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "test" / "fixtures"
CLIP_VOCAB_DIR = FIXTURES / "clip-vocab"
TINY_DIR = FIXTURES / "sdxl-tiny"
GOLDEN_JSON = FIXTURES / "text" / "clip-tokenizer-goldens.json"
UNICODE_TS = REPO / "companion" / "text" / "unicode-classes.ts"

BPE_MEMBER = "open_clip/bpe_simple_vocab_16e6.txt.gz"
# OpenAI CLIP uses the first 49152 - 256 - 2 merges of the file (after its header line).
N_MERGES = 49152 - 256 - 2
TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json")
CONFIG_FILES = ("tokenizer_config.json", "special_tokens_map.json")


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte-level alphabet: printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100 upwards
    (in byte order). The dict is ordered printable bytes first, then the others: that order is the order of the 256
    single-byte symbols at the start of the CLIP vocabulary ("!" = 0)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1)
    )
    table = {b: chr(b) for b in printable}
    others = [b for b in range(256) if b not in table]
    table.update({b: chr(256 + n) for n, b in enumerate(others)})
    return table


# ---------------------------------------------------------------------------------------------------------- vocab
def fetch_bpe_file(wheel_dir: Path) -> bytes:
    wheels = sorted(wheel_dir.glob("open_clip_torch-*.whl"))
    if not wheels:
        wheel_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "open-clip-torch", "-d", str(wheel_dir)], check=True
        )
        wheels = sorted(wheel_dir.glob("open_clip_torch-*.whl"))
    if not wheels:
        raise SystemExit(f"no open_clip_torch wheel in {wheel_dir}")
    with zipfile.ZipFile(wheels[-1]) as zf:
        print(f"reading {BPE_MEMBER} from {wheels[-1].name}")
        return zf.read(BPE_MEMBER)


def build_real_vocab(bpe_gz: bytes) -> tuple[dict[str, int], list[str]]:
    lines = gzip.decompress(bpe_gz).decode("utf-8").split("\n")
    merges = lines[1 : 1 + N_MERGES]  # line 0 is the "#version" header
    if len(merges) != N_MERGES or any(len(m.split(" ")) != 2 for m in merges):
        raise SystemExit("unexpected bpe_simple_vocab_16e6.txt layout")
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m.split(" ")) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    if len(vocab) != 49408:
        raise SystemExit(f"expected 49408 unique tokens, got {len(vocab)}")
    return vocab, merges


def cmd_vocab(args: argparse.Namespace) -> None:
    vocab, merges = build_real_vocab(fetch_bpe_file(Path(args.wheel_dir)))
    CLIP_VOCAB_DIR.mkdir(parents=True, exist_ok=True)
    vocab_text = json.dumps(vocab, ensure_ascii=False)
    merges_text = "#version: 0.2\n" + "\n".join(merges) + "\n"
    # mtime=0 and no file name keep the .gz files byte-identical between runs.
    for name, text in (("vocab.json", vocab_text), ("merges.txt", merges_text)):
        with open(CLIP_VOCAB_DIR / f"{name}.gz", "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
                gz.write(text.encode("utf-8"))
    # The SDXL config files of the tiny golden folders copy the real ones, so they serve the real vocab too.
    golden = Path(args.golden_dir)
    for sub in ("tokenizer", "tokenizer_2"):
        (CLIP_VOCAB_DIR / sub).mkdir(exist_ok=True)
        for name in CONFIG_FILES:
            shutil.copyfile(golden / "sdxl-tiny" / sub / name, CLIP_VOCAB_DIR / sub / name)
    print(f"wrote {CLIP_VOCAB_DIR}: {len(vocab)} tokens, {len(merges)} merges")


def real_tokenizer_dir(tmp: Path, sub: str) -> Path:
    """Unpack the committed fixture into a normal diffusers tokenizer folder (what the TS tests do too)."""
    out = tmp / "real" / sub
    out.mkdir(parents=True, exist_ok=True)
    for name in ("vocab.json", "merges.txt"):
        (out / name).write_bytes(gzip.decompress((CLIP_VOCAB_DIR / f"{name}.gz").read_bytes()))
    for name in CONFIG_FILES:
        shutil.copyfile(CLIP_VOCAB_DIR / sub / name, out / name)
    return out


# -------------------------------------------------------------------------------------------------------- unicode
def char_classes() -> dict[str, list[int]]:
    """Classify every code point with the regex engine of `tokenizers` itself (the one CLIPTokenizer runs)."""
    from tokenizers import Regex, normalizers, pre_tokenizers

    collapse = normalizers.Replace(Regex(r"\s+"), " ")
    split = pre_tokenizers.Split(Regex(r"[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"), behavior="removed", invert=True)
    space, letter, number = [], [], []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        if collapse.normalize_str("a" + c + "b") == "a b":
            space.append(cp)
        elif len(split.pre_tokenize_str("a" + c)) == 1:  # joins the letter run of "a"
            letter.append(cp)
        elif len(split.pre_tokenize_str(c + c)) == 2:  # \p{N} matches one code point at a time
            number.append(cp)
    return {"space": space, "letter": letter, "number": number, "nfc_active": nfc_active_code_points()}


def nfc_active_code_points() -> list[int]:
    """Code points the reference NFC (tokenizers' own Unicode tables, older than Node's) can change or move: those with
    a canonical decomposition, and non-starters (found by canonical reordering against U+0334, ccc 1, and U+0301,
    ccc 230, under NFD). Every other code point is inert for the reference, whatever newer Unicode says."""
    from tokenizers import normalizers

    nfd = normalizers.NFD()
    active = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        probes = (c, "q" + c + "\u0334", "q\u0301" + c)
        if any(nfd.normalize_str(p) != p for p in probes):
            active.append(cp)
    return active


def to_ranges(cps: list[int]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for cp in cps:
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return [(a, b) for a, b in out]


def cmd_unicode(_args: argparse.Namespace) -> None:
    classes = char_classes()
    tok_version = importlib.metadata.version("tokenizers")
    parts = [
        "// GENERATED by tools/golden/tokenizer.py unicode -- do not edit.\n",
        f"// Code point classes of the regex engine in `tokenizers` {tok_version} (Oniguruma), which transformers'\n",
        "// CLIPTokenizer uses for \\s, \\p{L} and \\p{N}, and the code points its NFC (an older Unicode version) can\n",
        "// change or reorder. Node follows newer Unicode versions, so the tokenizer uses these tables to treat text\n",
        "// exactly like the reference on every Node version.\n",
        "// Each array is [first, last, first, last, ...] with inclusive, sorted, disjoint ranges.\n\n",
    ]
    names = {
        "space": "WHITESPACE_RANGES",
        "letter": "LETTER_RANGES",
        "number": "NUMBER_RANGES",
        "nfc_active": "NFC_ACTIVE_RANGES",
    }
    for key, name in names.items():
        ranges = to_ranges(classes[key])
        flat = [f"0x{v:x}" for r in ranges for v in r]
        lines = [", ".join(flat[i : i + 12]) for i in range(0, len(flat), 12)]
        parts.append(f"/** {len(classes[key])} code points in {len(ranges)} ranges. */\n")
        parts.append(f"export const {name}: readonly number[] = [\n  " + ",\n  ".join(lines) + ",\n];\n\n")
    UNICODE_TS.write_text("".join(parts).rstrip("\n") + "\n", encoding="utf-8")
    print(f"wrote {UNICODE_TS}: " + ", ".join(f"{k} {len(v)}" for k, v in classes.items()))


# -------------------------------------------------------------------------------------------------------- goldens
LONG_HARBOR = "a watercolor painting of a quiet harbor at dawn, boats, seagulls, " * 6

PROMPTS: list[str] = [
    # the five prompts of ../shared/golden/tensors/tokenizer.json
    "A red apple",
    "a photo of an astronaut riding a horse on the moon, highly detailed, 8k",
    "",
    LONG_HARBOR,
    "Café  au lait!!! (masterpiece:1.2) — naïve   ART's style, don't STOP 42x",
    # whitespace only / whitespace handling
    "   ",
    "\t\n  \r\n",
    "Hello   World",
    "  leading and trailing spaces  ",
    "line one\nline two\tTabbed\r\nwindows\fform\vvertical",
    "a\u00a0b\u2003c\u3000d\u2028e\u0085f\ufeffg\u200bh\u180ei",
    "a\u0000b\u0007c\u001bd\u007fe",
    # prompt-weighting syntaxes
    "(red:1.2), [blue|green], {yellow}, <lora:foo:0.8>",
    "((masterpiece)), (best quality:1.4), [[lowres]], (((detailed)))",
    "a (cat:1.3) AND a dog:0.7 BREAK sunset, [from:to:0.5]",
    "\\(literal parens\\) and (nested (weights:1.1):0.9)",
    "masterpiece, best quality, 1girl, solo, long hair, looking at viewer, smile",
    "blurry, lowres, bad anatomy, worst quality, low quality, jpeg artifacts, watermark, signature",
    "A cat in the style of Van Gogh's Starry Night, oil on canvas, impasto",
    # numbers
    "photo of a cat, 4k, 1080p, 3.14159, 1,000,000 dollars, -12.5°C",
    "12345678901234567890",
    "1girl, 2boys, 3d render, 8k uhd, dslr, f/1.8, 50mm",
    "٣ ৫ 四 ⅷ ½ ² ①",
    "x² + y² = z², ∑∫√∞ ≠ ≤ ±",
    # contractions
    "I'm you're we've they'll she'd it's don't can't won't",
    "I'M YOU'RE WE'VE THEY'LL SHE'D IT'S DON'T",
    "l'amour, rock'n'roll, o'clock, 'quoted', ''s, '''t",
    "'s",
    # exclamation marks (tokenizer_2's pad token is "!")
    "!",
    "!!!",
    "hello! wow!!! amazing!?! !important",
    "wow" + "!" * 100,
    # punctuation and symbols
    "...,,,;;;:::---___***///###",
    "a <b> c | d > e < f",
    "hello_world my-prompt file.name/path\\back",
    "https://example.com/a?b=c&d=e user@example.com #hashtag @mention $5 100%",
    "“smart quotes” ‘single’ it’s — en–dash … ellipsis",
    "&amp; &lt;b&gt; &quot;hi&quot; &#39;x&#39; &nbsp; &copy;",
    # special-token text inside a prompt
    "<|startoftext|>hello<|endoftext|>",
    "<|ENDOFTEXT|> and <|StartOfText|>",
    "a<|endoftext|>b!<|endoftext|>c",
    "<|endoftext|>",
    "<|startoftext|>",
    "!<|endoftext|>|<|",
    "<|STARTOFTEXT|> <|startoftext|> <|EndOfText|> hi!!",
    # accents, case, normalisation
    "Cafe\u0301 nai\u0308ve re\u0301sume\u0301",
    "\u0301abc \u0308",
    "ﬁne ﬂour ﬀ",
    "ＡＢＣ１２３！？",
    "cafÃ© naÃ¯ve Ã¼ber",
    "Straße GROSSBUCHSTABEN Äpfel Öl Übermut ẞ",
    "Élégant château à l'aube, ÀÉÎÕÜ",
    "Zażółć gęślą jaźń",
    "Phở bò Việt Nam, tiếng Việt có dấu",
    "español, português, ñandú",
    "İstanbul ıi ǅ Ǆ ǆ",
    "ПРИВЕТ Мир ΣΑΣ Ελληνικά ὈΔΥΣΣΕΎΣ",
    # scripts
    "日本の桜, 中文提示词, 한국어 프롬프트",
    "東京タワーの夜景, ネオン, ｶﾀｶﾅ",
    "\u1112\u1161\u11ab\u1100\u1173\u11af",
    "مرحبا بالعالم שלום עולם नमस्ते दुनिया สวัสดีชาวโลก",
    "می\u200cخواهم क्षत्रिय தமிழ்",
    # emoji
    "a happy dog 🐶🐕‍🦺 with hearts ❤️❤️ 👍🏽",
    "🇯🇵🇫🇷 👨‍👩‍👧‍👦 🏳️‍🌈",
    "🔥🔥🔥 fire",
    # NFC with marks and letters newer than the reference's normalization tables (Node would reorder or compose):
    # a new mark after a virama, a new precomposed letter, and pairs Node composes into new letters
    "$\u1acf\u09cd e\u0301\u1acf\u0301",
    "\U000105c9 \U000105d2\u0307 \U00011935\U00011930 \U00016d67\U00016d67 \U000113c2\U000113c2",
    # letters that Node (Unicode 17) knows but the reference's regex engine does not
    "a\ua7ceb \U00010940\U00010941 x\u088fy",
    "\U00011de0\U00011de1",
    # length around the 77-token limit (each "cat" is one token in both vocabularies)
    "cat " * 74,
    "cat " * 75,
    "cat " * 76,
    "cat " * 200,
    "the " * 90,
    "A" * 300,
    "supercalifragilisticexpialidocious" * 3,
    "a",
    "7",
]

VARIANTS = {
    "tiny/tokenizer": ("tiny", "tokenizer"),
    "tiny/tokenizer_2": ("tiny", "tokenizer_2"),
    "real/tokenizer": ("real", "tokenizer"),
    "real/tokenizer_2": ("real", "tokenizer_2"),
    # Config layouts other than SDXL's, on the tiny tokenizer_2 vocabulary (see write_config_variants).
    "variant/added_tokens_decoder": ("variant", "added-tokens-decoder"),
    "variant/no_config": ("variant", "no-config"),
}
VARIANT_DIR = FIXTURES / "text" / "tokenizer-variants"

# tokenizer_config.json as newer transformers versions save it: an added_tokens_decoder whose flags win over the
# plain-string special tokens. The flags are flipped against SDXL's so that normalized/raw matching is exercised:
# "<|STARTOFTEXT|>" must stay text and "<|EndOfText|>" must become EOS.
ADDED_TOKENS_DECODER_CONFIG = {
    "added_tokens_decoder": {
        "721": {"content": "<|startoftext|>", "lstrip": False, "normalized": False, "rstrip": False,
                "single_word": False, "special": True},
        "722": {"content": "<|endoftext|>", "lstrip": False, "normalized": True, "rstrip": False,
                "single_word": False, "special": True},
    },
    "bos_token": "<|startoftext|>",
    "clean_up_tokenization_spaces": True,
    "do_lower_case": True,
    "eos_token": "<|endoftext|>",
    "errors": "replace",
    "model_max_length": 77,
    "pad_token": "!",
    "tokenizer_class": "CLIPTokenizer",
    "unk_token": "<|endoftext|>",
}


def write_config_variants() -> None:
    """Two folders with the tiny tokenizer_2 vocabulary: one with an added_tokens_decoder config, one with no config
    files at all (CLIPTokenizer's defaults: every special token "<|...|>" as a plain string, no length limit)."""
    for name, config in (("added-tokens-decoder", ADDED_TOKENS_DECODER_CONFIG), ("no-config", None)):
        dst = VARIANT_DIR / name
        dst.mkdir(parents=True, exist_ok=True)
        for file in ("vocab.json", "merges.txt"):
            shutil.copyfile(TINY_DIR / "tokenizer_2" / file, dst / file)
        if config is not None:
            (dst / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def copy_tiny(golden: Path) -> None:
    for sub in ("tokenizer", "tokenizer_2"):
        dst = TINY_DIR / sub
        dst.mkdir(parents=True, exist_ok=True)
        for name in TOKENIZER_FILES:
            shutil.copyfile(golden / "sdxl-tiny" / sub / name, dst / name)
    tensors = golden / "tensors"
    (FIXTURES / "golden").mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer.safetensors"):
        shutil.copyfile(tensors / name, FIXTURES / "golden" / name)


def dump_json(value: object, indent: str = "") -> str:
    """Indented JSON with every flat list (one prompt's ids, one prompt) on a single line: reviewable, small diffs."""
    inner = indent + "  "
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {dump_json(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}" if items else "{}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(inner + dump_json(v, inner) for v in value) + "\n" + indent + "]"
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "[\n" + ",\n".join(inner + json.dumps(v, ensure_ascii=False) for v in value) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def cmd_goldens(args: argparse.Namespace) -> None:
    import transformers
    from transformers import CLIPTokenizer

    copy_tiny(Path(args.golden_dir))
    write_config_variants()
    if len(PROMPTS) < 50 or len(set(PROMPTS)) != len(PROMPTS):
        raise SystemExit("need at least 50 distinct prompts")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cases = {}
        for key, (kind, sub) in VARIANTS.items():
            folder = {
                "tiny": lambda: TINY_DIR / sub,
                "real": lambda: real_tokenizer_dir(tmp, sub),
                "variant": lambda: VARIANT_DIR / sub,
            }[kind]()
            tok = CLIPTokenizer.from_pretrained(str(folder))
            cases[key] = {
                "folder": str(folder.relative_to(REPO)) if kind != "real" else f"test/fixtures/clip-vocab (+{sub}/)",
                "class": f"{type(tok).__module__}.{type(tok).__name__}",
                "bos_id": tok.bos_token_id,
                "eos_id": tok.eos_token_id,
                "pad_id": tok.pad_token_id,
                "pad_token": str(tok.pad_token),
                # transformers' "no limit" (int(1e30)) is stored as null
                "model_max_length": tok.model_max_length if tok.model_max_length < 1e29 else None,
                "vocab_size": tok.vocab_size,
                "added_tokens": [
                    {"id": i, "content": t.content, "normalized": t.normalized}
                    for i, t in sorted(tok.added_tokens_decoder.items())
                ],
                # tokenizer(text).input_ids: BOS + tokens + EOS, no truncation, no padding
                "unpadded": [tok(p)["input_ids"] for p in PROMPTS],
                # exactly as StableDiffusionXLPipeline.encode_prompt calls it
                "padded77": [
                    tok(p, padding="max_length", max_length=77, truncation=True)["input_ids"] for p in PROMPTS
                ],
                # a short limit to exercise truncation on many prompts
                "padded16": [
                    tok(p, padding="max_length", max_length=16, truncation=True)["input_ids"] for p in PROMPTS
                ],
            }
    out = {
        "description": "transformers.CLIPTokenizer ids for every prompt: unpadded = tokenizer(p).input_ids; "
        "paddedN = tokenizer(p, padding='max_length', max_length=N, truncation=True).input_ids",
        "generator": "tools/golden/tokenizer.py goldens",
        "versions": {
            "transformers": transformers.__version__,
            "tokenizers": importlib.metadata.version("tokenizers"),
        },
        "prompts": PROMPTS,
        "cases": cases,
    }
    GOLDEN_JSON.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN_JSON.write_text(dump_json(out) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN_JSON}: {len(PROMPTS)} prompts x {len(cases)} tokenizers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["vocab", "unicode", "goldens", "all"])
    parser.add_argument("--golden-dir", default=str(REPO.parent / "shared" / "golden"))
    parser.add_argument("--wheel-dir", default=os.path.join(tempfile.gettempdir(), "open-clip-wheel"))
    args = parser.parse_args()
    if args.command in ("vocab", "all"):
        cmd_vocab(args)
    if args.command in ("unicode", "all"):
        cmd_unicode(args)
    if args.command in ("goldens", "all"):
        cmd_goldens(args)


if __name__ == "__main__":
    main()
