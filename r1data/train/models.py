"""Loading the base model's processing class: a tokenizer for text models, a processor for VLMs.

transformers' ``AutoProcessor`` for Qwen2-VL / Qwen2.5-VL builds a video processor that
needs torchvision; where torchvision is missing (the CPU wheels this project pins) we fall
back to the PIL image processor inside a processor that declares no video part. Images then
work and videos must be given as sampled frames (the recipe's image column), which is what
the video corpora do anyway.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from transformers import Qwen2_5_VLProcessor

from r1data.errors import UsageError

log = logging.getLogger(__name__)


class ImageOnlyQwen25VLProcessor(Qwen2_5_VLProcessor):
    """Qwen2.5-VL's processor without the video processor (which needs torchvision)."""

    def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: str | None = None,
                 **kwargs: Any):
        super().__init__(image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
                         chat_template=chat_template, **kwargs)


def make_image_processor(min_pixels: int | None = None, max_pixels: int | None = None, path: str | Path | None = None) -> Any:
    """Qwen2-VL's PIL image processor (no torchvision), from ``path``'s preprocessor config when given."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    kwargs = {k: v for k, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels)) if v is not None}
    if path is not None and (Path(path) / "preprocessor_config.json").exists():
        return Qwen2VLImageProcessorPil.from_pretrained(str(path), **kwargs)
    return Qwen2VLImageProcessorPil(**kwargs)


def is_vision_model(path: str) -> bool:
    """Whether the model at ``path`` (local folder or hub id in the cache) takes images."""
    from transformers import AutoConfig

    try:
        cfg = AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as e:
        raise UsageError(f"model {path!r}: cannot read its config ({str(e).splitlines()[0]}); "
                         "pass a local folder with --model or set `model:` in the recipe") from None
    # a Qwen2.5-Omni checkpoint keeps its vision tower under the thinker (trained alone, as Omni-R1 does)
    thinker = getattr(cfg, "thinker_config", None)
    return getattr(cfg, "vision_config", None) is not None or getattr(thinker, "vision_config", None) is not None


def load_processing_class(path: str, vision: bool, min_pixels: int | None = None,
                          max_pixels: int | None = None) -> Any:
    """The tokenizer (text) or processor (VLM) for the model at ``path``."""
    from transformers import AutoProcessor, AutoTokenizer

    if not vision:
        tok = AutoTokenizer.from_pretrained(path)
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        return tok
    if is_omni_model(path):
        # images and audio (the row's sound reaches the thinker: r1data.train.omni)
        from r1data.train.omni import load_omni_processor

        return load_omni_processor(path, min_pixels, max_pixels)
    try:
        processor = AutoProcessor.from_pretrained(path)
        image_processor = getattr(processor, "image_processor", None)
        if image_processor is None:
            # a folder saved with the image-only processor reads back as a bare tokenizer
            raise ValueError("AutoProcessor gave no image processor")
        if min_pixels or max_pixels:
            size = dict(image_processor.size)
            if min_pixels:
                size["shortest_edge"] = min_pixels
            if max_pixels:
                size["longest_edge"] = max_pixels
            image_processor.size = size
        return processor
    except (ImportError, ValueError, AttributeError, OSError) as e:
        # the torchvision-less case; only the Qwen2/2.5-VL family has a PIL fallback here
        log.info("AutoProcessor failed for %s (%s); using the image-only Qwen2.5-VL processor", path, e)
    tok = AutoTokenizer.from_pretrained(path)
    if not tok.chat_template:
        raise UsageError(f"model {path!r}: its tokenizer has no chat template")
    return ImageOnlyQwen25VLProcessor(image_processor=make_image_processor(min_pixels, max_pixels, path),
                                      tokenizer=tok, chat_template=tok.chat_template)


def load_model(path: str, vision: bool, dtype: str | None = None) -> Any:
    """The model at ``path`` (``torch_dtype`` ``auto`` unless the recipe says otherwise)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    kwargs: dict[str, Any] = {}
    if dtype and dtype != "auto":
        kwargs["dtype"] = getattr(torch, dtype)
    if vision and _model_type(path) == "qwen2_5_omni":
        # Omni-R1 trains the thinker only: load the whole model, keep its thinker (a thinker checkpoint,
        # model_type qwen2_5_omni_thinker, then loads as an image-text-to-text model like any VLM)
        from transformers import Qwen2_5OmniForConditionalGeneration

        return Qwen2_5OmniForConditionalGeneration.from_pretrained(path, **kwargs).thinker
    cls = AutoModelForImageTextToText if vision else AutoModelForCausalLM
    return cls.from_pretrained(path, **kwargs)


def is_omni_model(path: str) -> bool:
    """Whether the model at ``path`` is Qwen2.5-Omni, whole or its thinker (it takes audio too)."""
    return _model_type(path) in ("qwen2_5_omni", "qwen2_5_omni_thinker")


def _model_type(path: str) -> str | None:
    from transformers import AutoConfig

    try:
        return getattr(AutoConfig.from_pretrained(path), "model_type", None)
    except (OSError, ValueError):
        return None


def tokenizer_of(processing_class: Any) -> Any:
    return getattr(processing_class, "tokenizer", processing_class)
