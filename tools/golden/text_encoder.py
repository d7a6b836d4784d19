"""Fixtures for the CLIP text-encoder tests (never needed at run time).

1. test/fixtures/golden/text_encoder_ids.json: the token ids StableDiffusionXLPipeline.encode_prompt feeds each
   encoder for every case of the shared text_encoder golden (prompt, prompt_2, negative prompts), made with the
   sdxl-tiny tokenizers exactly as encode_prompt calls them (padding="max_length", max_length=77,
   truncation=True). Checked against the golden raw.te1/te2.input_ids.
2. test/fixtures/clip-text-extra/: a tiny CLIPTextModel whose config is NOT the SDXL legacy one: eos_token_id 5
   (so transformers pools at the first id == 5, not argmax), hidden_act gelu_new (tanh GELU), and a checkpoint
   whose keys carry the `text_model.` prefix like the real SDXL text_encoder. Goldens of every hidden state,
   last_hidden_state and pooler_output for a batch of 2 in test/fixtures/golden/clip_text_extra.safetensors.

Usage: /work/venv/bin/python tools/golden/text_encoder.py --golden /work/shared/golden --out test/fixtures
"""
import argparse
import json
import os

import torch
from safetensors.torch import load_file, save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer


def ids_for(tokenizer, text):
    return tokenizer(text, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                     return_tensors="pt").input_ids[0].tolist()


def encode_prompt_ids(golden, out):
    tok1 = CLIPTokenizer.from_pretrained(os.path.join(golden, "sdxl-tiny", "tokenizer"))
    tok2 = CLIPTokenizer.from_pretrained(os.path.join(golden, "sdxl-tiny", "tokenizer_2"))
    with open(os.path.join(golden, "tensors", "text_encoder.json")) as f:
        cases = json.load(f)["inputs"]["cases"]
    result = {}
    for name, case in cases.items():
        prompt = case["prompt"]
        prompt_2 = case.get("prompt_2") or prompt
        entry = {"prompt": {"te1": ids_for(tok1, prompt), "te2": ids_for(tok2, prompt_2)}}
        neg = case.get("negative_prompt")
        if neg is not None:
            # encode_prompt: negative_prompt_2 defaults to negative_prompt
            entry["negative"] = {"te1": ids_for(tok1, neg), "te2": ids_for(tok2, neg)}
        entry["case"] = case
        result[name] = entry
    raw = load_file(os.path.join(golden, "tensors", "text_encoder.safetensors"))
    assert result["neg_none"]["prompt"]["te1"] == raw["raw.te1.input_ids"][0].tolist()
    assert result["neg_none"]["prompt"]["te2"] == raw["raw.te2.input_ids"][0].tolist()
    with open(os.path.join(out, "golden", "text_encoder_ids.json"), "w") as f:
        # one case per line: ids stay readable without a 300-line file
        f.write("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in result.items()) + "\n}\n")


def extra_model(out):
    torch.manual_seed(4321)
    config = CLIPTextConfig(vocab_size=50, hidden_size=24, intermediate_size=40, num_hidden_layers=2,
                            num_attention_heads=3, max_position_embeddings=16, hidden_act="gelu_new",
                            layer_norm_eps=1e-5, bos_token_id=4, eos_token_id=5, pad_token_id=5,
                            projection_dim=12)
    model = CLIPTextModel(config).eval()
    folder = os.path.join(out, "clip-text-extra")
    os.makedirs(folder, exist_ok=True)
    cfg = config.to_dict()
    cfg["architectures"] = ["CLIPTextModel"]
    keep = ["architectures", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
            "num_attention_heads", "max_position_embeddings", "hidden_act", "layer_norm_eps", "bos_token_id",
            "eos_token_id", "pad_token_id", "projection_dim", "attention_dropout", "dropout", "model_type"]
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({k: cfg[k] for k in keep if k in cfg}, f, indent=2, sort_keys=True)
        f.write("\n")
    # The real SDXL text_encoder checkpoint nests everything under `text_model.`.
    state = {f"text_model.{k}": v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})

    # Row 0: EOS (5) then a larger id (40) later, so argmax pooling would pick the wrong row; pad = 5 repeats.
    # Row 1: EOS right after BOS and more EOS pads: the FIRST 5 must be chosen.
    ids = torch.tensor([
        [4, 17, 23, 5, 40, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
        [4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
    ], dtype=torch.int64)
    with torch.no_grad():
        o = model(input_ids=ids, output_hidden_states=True)
    tensors = {"input_ids": ids, "last_hidden_state": o.last_hidden_state.contiguous(),
               "pooler_output": o.pooler_output.contiguous()}
    for i, h in enumerate(o.hidden_states):
        tensors[f"hidden_states.{i}"] = h.contiguous()
    save_file(tensors, os.path.join(out, "golden", "clip_text_extra.safetensors"), metadata={"format": "pt"})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--golden", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    torch.set_num_threads(1)
    os.makedirs(os.path.join(a.out, "golden"), exist_ok=True)
    encode_prompt_ids(a.golden, a.out)
    extra_model(a.out)


if __name__ == "__main__":
    main()
