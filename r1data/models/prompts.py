"""The prompt a model is asked with: exactly the one GRPO trains on for that corpus.

:class:`PromptBuilder` reads the corpus's training recipe (``train/CORPUS.yaml``, or the one
given), resolves its ``data:`` section against the build's schema as ``r1data train`` does
(:func:`r1data.train.data.resolve_mapping`) and renders each row with the same
:class:`~r1data.train.data.RowFormatter`: the system prompt, the user turn from the prompt
template, the row's images (the first ``max_images``), or ``video_frames`` frames sampled
uniformly from its video. Nothing here imports torch, so an API model needs no ``train`` extra.

A local model gets the turns through its chat template; an API model gets the same turns as
messages (:func:`request_messages`): images first, then the text, as the chat template orders them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1data.errors import UnknownNameError, UsageError


@dataclass
class Prompt:
    """One row's prompt: TRL's conversational turns and the images its ``{"type": "image"}`` parts stand for."""

    id: str
    turns: list[dict]
    images: list[Any] | None = None      # PIL images, in order

    @property
    def text(self) -> str:
        """The turns' text (to order prompts by length)."""
        out = []
        for t in self.turns:
            c = t["content"]
            out.append(c if isinstance(c, str) else " ".join(p.get("text", "") for p in c))
        return "\n".join(out)


class PromptBuilder:
    """Prompts for the rows of one build, from the corpus's training recipe.

    ``schema``: the build's schema (its manifest's ``schema``); ``root``: the build folder (for
    relative video paths); ``vision``: whether the model takes images (an API model is assumed
    to; a recipe with ``images: none`` sends none); ``listens``: whether it takes audio (a local
    Qwen2.5-Omni: a recipe with ``data.audio`` then gives the video's sound, r1data.train.audio)."""

    def __init__(self, corpus: str, schema: dict, root: str | Path | None = None, *,
                 recipe: str | Path | None = None, assets: Any = None, vision: bool = True, listens: bool = False):
        from r1data.train.data import RowFormatter, resolve_mapping
        from r1data.train.recipe import load_recipe

        try:
            self.loaded = load_recipe(recipe or corpus, assets, check_trl=False)
        except UnknownNameError:
            raise UsageError(f"no training recipe for corpus {corpus!r} (train/{corpus}.yaml) to build its prompts "
                             "from; pass --recipe FILE") from None
        r = self.loaded.recipe
        if r.corpus != corpus:
            raise self.loaded.error(f"a recipe for the corpus {corpus!r}", "corpus", got=r.corpus)
        self.mapping = resolve_mapping(self.loaded, schema, [], vision)
        self.formatter = RowFormatter(self.loaded, self.mapping, None, root=root, listens=listens)

    @property
    def recipe(self) -> Any:
        return self.loaded.recipe

    @property
    def columns(self) -> list[str]:
        """The build's columns a prompt reads (``id`` first)."""
        return self.mapping.columns("grpo")

    def prompt(self, row: dict, decode: bool = True) -> Prompt:
        """The prompt of one row; :class:`~r1data.train.data.RowSkipped` when the row cannot be
        shown to the model (an image missing or undecodable, a video that does not decode).

        ``decode=False`` (an API model) leaves stored images as their bytes: they are sent as
        stored, not decoded and re-encoded."""
        turns, images = self.formatter.prompt(row, decode=decode)
        return Prompt(str(row.get("id")), turns, images)

    def follow_up(self, row: dict, completion: str) -> Prompt | None:
        """The next prompt after ``completion`` in a multi-step protocol, or None when the answer is
        final: LOVE-R1's zoom-in recipes (``data.zoom``) show the clip a valid zoom request asked for
        (:meth:`r1data.train.zoom_data.ZoomFormatter.follow_up`); every other recipe is one step."""
        zoom = self.formatter.zoom
        if zoom is None:
            return None
        nxt = zoom.follow_up(row, completion)
        return None if nxt is None else Prompt(str(row.get("id")), nxt[0], nxt[1])

    def generation_defaults(self) -> dict[str, Any]:
        """What GRPO samples with in this recipe: ``temperature``, ``max_new_tokens`` (None: unset)."""
        cfg = self.recipe.grpo.config
        return {"temperature": cfg.get("temperature"), "max_new_tokens": cfg.get("max_completion_length")}


def request_messages(prompt: Prompt) -> tuple[Any, ...]:
    """The prompt as the annotator client's messages: each ``{"type": "image"}`` part becomes the
    next image, each text part its text, in the order of the turn. Stored image bytes go as they
    are; decoded images (video frames) as JPEG (quality 90: PNG would cost ~50 ms a frame)."""
    from r1data.annotators.request import Message

    media = iter([_media(im) for im in prompt.images or []])
    messages = []
    for turn in prompt.turns:
        content = turn["content"]
        if isinstance(content, str):
            parts: tuple = (content,)
        else:
            parts = tuple(next(media) if part.get("type") == "image" else str(part.get("text", ""))
                          for part in content)
        messages.append(Message(turn["role"], parts))
    return tuple(messages)


def _media(image: Any) -> Any:
    from r1data.annotators.request import Media, to_media

    if hasattr(image, "save") and hasattr(image, "mode"):          # a PIL image
        import io

        buf = io.BytesIO()
        image.convert("RGB").save(buf, format="JPEG", quality=90)
        return Media(buf.getvalue(), "image/jpeg")
    return to_media(image)
