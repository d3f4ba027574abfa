"""Qwen2.5-Omni's thinker in ``r1data train`` and ``r1data eval --model``: the prompt's sound reaches it.

TRL's trainers move images only. What is added here, for recipes with ``data.audio: true``:

* :class:`OmniProcessor`: Qwen2.5-Omni's processor without its video processor (which needs
  torchvision; frames are given as images, as for Qwen2.5-VL here). Its ``__call__`` reads the audio
  references a prompt's text carries (:mod:`r1data.train.audio`), decodes them and hands the samples
  to the real processor, which expands each ``<|AUDIO|>`` to the track's audio tokens and returns
  Whisper features (``input_features``, ``feature_attention_mask``). TRL's generation
  (``apply_chat_template(tokenize=True)``) and ``r1data eval``'s local model both tokenize through it.
* :class:`OmniGRPOTrainer`: TRL's ``GRPOTrainer`` whose log-prob passes (old policy, reference model,
  the loss) give the model the same audio features as generation did. TRL's
  ``_get_per_token_logps_and_entropies`` forwards image fields only, so each row's features ride
  with the batch as a per-row list (shuffled and split with it) and are put into the model's forward
  for the rows of each chunk.

The audio is its own part of the user turn (after the frames, before the text), in windows of at
most 30 s, not interleaved with video chunks as Qwen2.5-Omni's ``use_audio_in_video`` does: the
frames are images here and carry no time positions. docs/omni.md says what this changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from transformers import Qwen2_5OmniProcessor
from transformers.processing_utils import ProcessorMixin
from trl import GRPOTrainer

from r1data.errors import UsageError
from r1data.train.audio import SAMPLING_RATE, load_ref, prompt_refs, strip_refs, text_refs
from r1data.train.len_control import LenControlMixin

OMNI_MODEL_TYPES = ("qwen2_5_omni", "qwen2_5_omni_thinker")
# the tokenizer's names of Qwen2.5-Omni's special tokens, as its processor reads them
TOKEN_ATTRIBUTES = ("image_token", "audio_token", "video_token", "vision_bos_token", "vision_eos_token",
                    "audio_bos_token", "audio_eos_token")
OMNI_TOKENS = {"image_token": "<|IMAGE|>", "audio_token": "<|AUDIO|>", "video_token": "<|VIDEO|>",
               "vision_bos_token": "<|vision_bos|>", "vision_eos_token": "<|vision_eos|>",
               "audio_bos_token": "<|audio_bos|>", "audio_eos_token": "<|audio_eos|>"}


class OmniProcessor(Qwen2_5OmniProcessor):
    """Qwen2.5-Omni's processor (images, audio, text; no video processor) that decodes the audio
    references in its text (see the module docstring)."""

    def __init__(self, image_processor: Any = None, feature_extractor: Any = None, tokenizer: Any = None,
                 chat_template: str | None = None):
        # no video_processor in the signature: ProcessorMixin takes its parts from it
        ProcessorMixin.__init__(self, image_processor=image_processor, feature_extractor=feature_extractor,
                                tokenizer=tokenizer, chat_template=chat_template)
        for name in TOKEN_ATTRIBUTES:
            setattr(self, name, getattr(tokenizer, name))
            setattr(self, f"{name}_id", tokenizer.convert_tokens_to_ids(getattr(tokenizer, name)))

    @property
    def sampling_rate(self) -> int:
        return int(getattr(self.feature_extractor, "sampling_rate", SAMPLING_RATE))

    def __call__(self, text: Any = None, images: Any = None, videos: Any = None, audio: Any = None,
                 **kwargs: Any) -> Any:
        if text is not None and audio is None:
            texts = [text] if isinstance(text, str) else list(text)
            refs = [r for t in texts for r in text_refs(t)]
            if refs:
                audio = [load_ref(r, self.sampling_rate) for r in refs]
                texts = [strip_refs(t, self.audio_token) for t in texts]
                text = texts[0] if isinstance(text, str) else texts
        return super().__call__(text=text, images=images, videos=videos, audio=audio, **kwargs)

    def audio_features(self, refs: list[str]) -> tuple[Any, Any]:
        """Whisper features and their mask for the audio ``refs`` (as ``__call__`` makes them)."""
        samples = [load_ref(r, self.sampling_rate) for r in refs]
        out = self.feature_extractor(samples, sampling_rate=self.sampling_rate, padding="max_length",
                                     return_attention_mask=True, return_tensors="pt")
        return out["input_features"], out["attention_mask"]

    def save_pretrained(self, save_directory: str | Path, **kwargs: Any) -> list[str]:  # type: ignore[override]
        """The Hub's layout for Qwen2.5-Omni: the tokenizer, one ``preprocessor_config.json`` holding
        the image processor's and the feature extractor's settings, the chat template."""
        path = Path(save_directory)
        path.mkdir(parents=True, exist_ok=True)
        files = list(self.tokenizer.save_pretrained(str(path)))
        config = {**self.image_processor.to_dict(), **self.feature_extractor.to_dict()}
        config.update(image_processor_type=type(self.image_processor).__name__,
                      feature_extractor_type=type(self.feature_extractor).__name__)
        (path / "preprocessor_config.json").write_text(json.dumps(config, indent=2, default=_jsonable))
        files.append(str(path / "preprocessor_config.json"))
        if self.chat_template:
            (path / "chat_template.jinja").write_text(self.chat_template, encoding="utf-8")
            files.append(str(path / "chat_template.jinja"))
        return files


def _jsonable(v: Any) -> Any:
    return v.tolist() if hasattr(v, "tolist") else str(v)


def load_omni_processor(path: str, min_pixels: int | None = None, max_pixels: int | None = None) -> OmniProcessor:
    """:class:`OmniProcessor` from a Qwen2.5-Omni folder (the Hub's or one ``r1data train`` wrote)."""
    from transformers import AutoTokenizer, WhisperFeatureExtractor

    from r1data.train.models import make_image_processor

    tok = AutoTokenizer.from_pretrained(path)
    missing = [n for n in TOKEN_ATTRIBUTES if not getattr(tok, n, None)]
    if missing:
        raise UsageError(f"model {path!r}: its tokenizer does not name Qwen2.5-Omni's special tokens "
                         f"({', '.join(missing)}); is it a Qwen2.5-Omni checkpoint?")
    folder = Path(path)
    template = tok.chat_template
    if (folder / "chat_template.jinja").is_file():
        template = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    elif (folder / "chat_template.json").is_file():
        template = json.loads((folder / "chat_template.json").read_text(encoding="utf-8")).get("chat_template")
    if not template:
        raise UsageError(f"model {path!r}: no chat template (tokenizer, chat_template.jinja or .json)")
    if (folder / "preprocessor_config.json").is_file():
        features = WhisperFeatureExtractor.from_pretrained(str(folder))
    else:
        features = WhisperFeatureExtractor(feature_size=128)
    return OmniProcessor(image_processor=make_image_processor(min_pixels, max_pixels, path),
                         feature_extractor=features, tokenizer=tok, chat_template=template)


@contextmanager
def forward_extras(model: Any, extra: dict[str, Any]) -> Iterator[None]:
    """Every call of ``model`` inside the block also gets ``extra`` as keyword arguments."""
    if not extra:
        yield
        return

    def hook(module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        return args, {**kwargs, **extra}

    handle = model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()


AUDIO_KEYS = ("audio_features", "audio_mask")


class OmniGRPOTrainer(LenControlMixin, GRPOTrainer):
    """TRL's GRPOTrainer whose every forward pass hears the prompt's audio (module docstring), with
    Omni-R1's length bonus when the recipe has one (r1data.train.len_control)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not isinstance(self.processing_class, OmniProcessor):
            raise UsageError("the audio GRPO trainer needs Qwen2.5-Omni's processor (data.audio: true takes a "
                             "Qwen2.5-Omni model)")
        self._audio_rows: list | None = None   # per row of the batch in flight: (features, mask) or None

    def _rows_audio(self, prompts: list[list[dict]]) -> list[tuple[Any, Any] | None]:
        # a group repeats its prompt num_generations times: features once per distinct sound
        seen: dict[tuple[str, ...], tuple[Any, Any] | None] = {}
        out = []
        for turns in prompts:
            refs = tuple(prompt_refs(turns))
            if refs not in seen:
                seen[refs] = self.processing_class.audio_features(list(refs)) if refs else None
            out.append(seen[refs])
        return out

    def _generate_and_score_completions(self, inputs: list[dict]) -> dict[str, Any]:
        rows = self._rows_audio([x["prompt"] for x in inputs])
        self._audio_rows = rows
        try:
            output = super()._generate_and_score_completions(inputs)
        finally:
            self._audio_rows = None
        # lists, one item per row: TRL shuffles and splits them with the batch
        output["audio_features"] = [r[0] if r is not None else None for r in rows]
        output["audio_mask"] = [r[1] if r is not None else None for r in rows]
        return output

    def compute_loss(self, model: Any, inputs: dict, return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        feats, masks = inputs.get("audio_features"), inputs.get("audio_mask")
        self._audio_rows = ([None if f is None else (f, m) for f, m in zip(feats, masks)]
                            if feats is not None else None)
        try:
            # the buffered batch is reused across iterations: leave it whole, hand TRL a copy
            rest = {k: v for k, v in inputs.items() if k not in AUDIO_KEYS}
            return super().compute_loss(model, rest, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)
        finally:
            self._audio_rows = None

    def _get_per_token_logps_and_entropies(self, model: Any, input_ids: Any, attention_mask: Any,
                                           logits_to_keep: int, batch_size: int | None = None,
                                           input_features: Any = None, feature_attention_mask: Any = None,
                                           **kwargs: Any) -> Any:
        # input_features / feature_attention_mask: the processor's, for the whole batch; the per-row
        # list below is the same data, sliceable by row
        rows = self._audio_rows
        base = super()._get_per_token_logps_and_entropies
        if rows is None or not any(r is not None for r in rows):
            return base(model, input_ids, attention_mask, logits_to_keep, batch_size, **kwargs)
        if len(rows) != input_ids.size(0):
            raise RuntimeError(f"audio for {len(rows)} rows, a batch of {input_ids.size(0)}")
        import torch

        batch_size = batch_size or input_ids.size(0)
        parts: list[tuple] = []
        for start in range(0, input_ids.size(0), batch_size):
            end = min(start + batch_size, input_ids.size(0))
            chunk = [r for r in rows[start:end] if r is not None]
            extra = ({"input_features": torch.cat([f for f, _ in chunk]).to(input_ids.device),
                      "feature_attention_mask": torch.cat([m for _, m in chunk]).to(input_ids.device)}
                     if chunk else {})
            with forward_extras(model, extra):
                parts.append(base(model, input_ids[start:end], attention_mask[start:end], logits_to_keep,
                                  end - start, **_rows_of(kwargs, start, end)))
        return tuple(None if p[0] is None else torch.cat(list(p)) for p in zip(*parts))


def _rows_of(kwargs: dict[str, Any], start: int, end: int) -> dict[str, Any]:
    """The image fields of rows ``start:end`` (Qwen's layout: pixel rows per image from its grid)."""
    import torch

    out = dict(kwargs)
    num_images = kwargs.get("num_images")
    pixels, grid = kwargs.get("pixel_values"), kwargs.get("image_grid_thw")
    if pixels is not None:
        if grid is None or num_images is None:
            raise RuntimeError("the audio GRPO trainer slices Qwen-style images only (pixel_values with "
                               "image_grid_thw)")
        cum_images = [0]
        for n in num_images:
            cum_images.append(cum_images[-1] + n)
        i0, i1 = cum_images[start], cum_images[end]
        cum_rows = torch.cat([torch.zeros(1, dtype=torch.long, device=grid.device), grid.prod(dim=-1).cumsum(0)])
        out["pixel_values"] = pixels[int(cum_rows[i0]):int(cum_rows[i1])]
        out["image_grid_thw"] = grid[i0:i1]
        out["num_images"] = list(num_images[start:end])
    for key in ("mm_token_type_ids", "token_type_ids", "pixel_attention_mask"):
        if kwargs.get(key) is not None:
            out[key] = kwargs[key][start:end]
    return out
