"""Tiny random models made offline, to smoke-test a recipe with no download.

``make_tiny_model(path, kind, texts)`` trains a byte-level BPE tokenizer on ``texts`` (a few
hundred tokens of vocabulary), gives it the chat template TRL ships for the family, builds a
two-layer Qwen2 (``kind="text"``), Qwen2.5-VL (``kind="vl"``) or Qwen2.5-Omni thinker (``kind="omni"``:
images and audio, Qwen2.5-Omni's special tokens and chat template) with random weights and saves
everything to ``path``, loadable with ``r1data train --model PATH``. The weights are random:
such a model only shows that the pipeline runs, not that it learns anything useful.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

# Qwen's special tokens; the vision ones must exist even in the text model (one tokenizer)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                  "<|image_pad|>", "<|video_pad|>"]
# Qwen2.5-Omni's names for them, and its audio tokens (the thinker's tokenizer)
OMNI_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_bos|>", "<|vision_eos|>",
                       "<|IMAGE|>", "<|VIDEO|>", "<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"]


def trl_chat_template(name: str) -> str:
    """A chat template shipped inside TRL (``qwen2_5``, ``qwen2_5_vl``, ``qwen2_5_training``...)."""
    import trl

    path = Path(trl.__file__).parent / "chat_templates" / f"{name}.jinja"
    return path.read_text(encoding="utf-8")


def omni_chat_template() -> str:
    """Qwen2.5-VL's template (TRL's copy) with Qwen2.5-Omni's vision tokens; an audio part (a
    ``{"type": "audio"}`` content) is ``<|audio_bos|><|AUDIO|><|audio_eos|>`` as in Qwen2.5-Omni's."""
    t = trl_chat_template("qwen2_5_vl")
    t = t.replace("<|vision_start|><|image_pad|><|vision_end|>", "<|vision_bos|><|IMAGE|><|vision_eos|>")
    t = t.replace("<|vision_start|><|video_pad|><|vision_end|>", "<|vision_bos|><|VIDEO|><|vision_eos|>")
    return t.replace("{% elif 'text' in content %}",
                     "{% elif content['type'] == 'audio' %}<|audio_bos|><|AUDIO|><|audio_eos|>"
                     "{% elif 'text' in content %}")


def make_tiny_tokenizer(texts: Iterable[str], vocab_size: int = 512, template: str = "qwen2_5"):  # type: ignore[no-untyped-def]
    """A fast tokenizer trained on ``texts`` with Qwen's special tokens and TRL's chat template
    (``template="omni"``: Qwen2.5-Omni's tokens and :func:`omni_chat_template`)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    omni = template == "omni"
    special = OMNI_SPECIAL_TOKENS if omni else SPECIAL_TOKENS
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(list(texts) or ["<think> </think> <answer> </answer>"], trainer)
    extra: dict = {}
    if omni:
        from r1data.train.omni import OMNI_TOKENS

        extra["extra_special_tokens"] = OMNI_TOKENS
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                 additional_special_tokens=special[1:], **extra)
    hf.chat_template = omni_chat_template() if omni else trl_chat_template(template)
    return hf


def make_tiny_model(path: str | Path, kind: Literal["text", "vl", "omni"] = "text", texts: Iterable[str] = (),
                    hidden_size: int = 64, layers: int = 2, seed: int = 0) -> Path:
    """Save a tiny random Qwen2 (``text``), Qwen2.5-VL (``vl``) or Qwen2.5-Omni thinker (``omni``)
    with its tokenizer (and processor settings) to ``path``."""
    import torch

    torch.manual_seed(seed)
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tok = make_tiny_tokenizer(texts, template={"vl": "qwen2_5_vl", "omni": "omni"}.get(kind, "qwen2_5"))
    heads, kv_heads = 4, 2
    text = dict(vocab_size=len(tok), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
                max_position_embeddings=4096, bos_token_id=None, eos_token_id=tok.eos_token_id,
                pad_token_id=tok.pad_token_id)
    if kind == "text":
        from transformers import Qwen2Config, Qwen2ForCausalLM

        model = Qwen2ForCausalLM(Qwen2Config(**text, tie_word_embeddings=True))
    elif kind == "omni":
        model = _tiny_omni_thinker(path, tok, text, hidden_size, heads)
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


def _tiny_omni_thinker(path: Path, tok: Any, text: dict, hidden_size: int, heads: int) -> Any:
    """A Qwen2.5-Omni thinker (vision tower, audio encoder, text model), two layers each; its
    processor (PIL images, Whisper features of 128 mel bins at 16 kHz) saved beside it."""
    from transformers import (Qwen2_5OmniThinkerConfig, Qwen2_5OmniThinkerForConditionalGeneration,
                              WhisperFeatureExtractor)

    from r1data.train.models import make_image_processor
    from r1data.train.omni import OmniProcessor

    ids = {t: tok.convert_tokens_to_ids(t) for t in OMNI_SPECIAL_TOKENS}
    half = hidden_size // heads // 2
    sections = [half - 2 * (half // 3), half // 3, half // 3]
    cfg = Qwen2_5OmniThinkerConfig(
        text_config=dict(text, rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": sections},
                         tie_word_embeddings=True),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=14,
                           spatial_merge_size=2, temporal_patch_size=2, window_size=56, fullatt_block_indexes=[1],
                           out_hidden_size=hidden_size),
        audio_config=dict(num_mel_bins=128, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
                          d_model=32, output_dim=hidden_size, n_window=100, max_source_positions=1500),
        audio_token_index=ids["<|AUDIO|>"], image_token_index=ids["<|IMAGE|>"], video_token_index=ids["<|VIDEO|>"],
        audio_start_token_id=ids["<|audio_bos|>"], audio_end_token_id=ids["<|audio_eos|>"],
        vision_start_token_id=ids["<|vision_bos|>"], vision_end_token_id=ids["<|vision_eos|>"],
        user_token_id=ids["<|im_start|>"])
    OmniProcessor(image_processor=make_image_processor(min_pixels=28 * 28, max_pixels=56 * 56),
                  feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=tok,
                  chat_template=tok.chat_template).save_pretrained(path)
    return Qwen2_5OmniThinkerForConditionalGeneration(cfg)
