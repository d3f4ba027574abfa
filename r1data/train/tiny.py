"""Tiny random models made offline, to smoke-test a recipe with no download.

``make_tiny_model(path, kind, texts)`` trains a byte-level BPE tokenizer on ``texts`` (a few
hundred tokens of vocabulary), gives it the chat template TRL ships for the family, builds a
two-layer Qwen2 (``kind="text"``) or Qwen2.5-VL (``kind="vl"``) with random weights and saves
everything to ``path``, loadable with ``r1data train --model PATH``. The weights are random:
such a model only shows that the pipeline runs, not that it learns anything useful.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

# Qwen's special tokens; the vision ones must exist even in the text model (one tokenizer)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                  "<|image_pad|>", "<|video_pad|>"]


def trl_chat_template(name: str) -> str:
    """A chat template shipped inside TRL (``qwen2_5``, ``qwen2_5_vl``, ``qwen2_5_training``...)."""
    import trl

    path = Path(trl.__file__).parent / "chat_templates" / f"{name}.jinja"
    return path.read_text(encoding="utf-8")


def make_tiny_tokenizer(texts: Iterable[str], vocab_size: int = 512, template: str = "qwen2_5"):  # type: ignore[no-untyped-def]
    """A fast tokenizer trained on ``texts`` with Qwen's special tokens and TRL's chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(list(texts) or ["<think> </think> <answer> </answer>"], trainer)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                 additional_special_tokens=SPECIAL_TOKENS[1:])
    hf.chat_template = trl_chat_template(template)
    return hf


def make_tiny_model(path: str | Path, kind: Literal["text", "vl"] = "text", texts: Iterable[str] = (),
                    hidden_size: int = 64, layers: int = 2, seed: int = 0) -> Path:
    """Save a tiny random Qwen2 (``text``) or Qwen2.5-VL (``vl``) with its tokenizer to ``path``."""
    import torch

    torch.manual_seed(seed)
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tok = make_tiny_tokenizer(texts, template="qwen2_5_vl" if kind == "vl" else "qwen2_5")
    heads, kv_heads = 4, 2
    text = dict(vocab_size=len(tok), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
                max_position_embeddings=4096, bos_token_id=None, eos_token_id=tok.eos_token_id,
                pad_token_id=tok.pad_token_id)
    if kind == "text":
        from transformers import Qwen2Config, Qwen2ForCausalLM

        model = Qwen2ForCausalLM(Qwen2Config(**text, tie_word_embeddings=True))
    else:
        from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

        from r1data.train.models import make_image_processor

        ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS[3:]}
        half = hidden_size // heads // 2  # mrope sections add up to half the head dimension
        sections = [half - 2 * (half // 3), half // 3, half // 3]
        cfg = Qwen2_5_VLConfig(
            text_config=dict(text, rope_parameters={"rope_type": "default", "rope_theta": 1e6,
                                                    "mrope_section": sections}),
            vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=14,
                               spatial_merge_size=2, temporal_patch_size=2, window_size=56,
                               fullatt_block_indexes=[1], out_hidden_size=hidden_size),
            image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
            vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
            tie_word_embeddings=True)
        model = Qwen2_5_VLForConditionalGeneration(cfg)
        # small images keep the tiny model's sequences short (4 to 16 vision tokens per image)
        make_image_processor(min_pixels=28 * 28, max_pixels=56 * 56).save_pretrained(path)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path
