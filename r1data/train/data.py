"""Rows of a build -> TRL's conversational formats.

SFT rows are ``{"messages": [system?, user, assistant], "images": [PIL, ...]}``; GRPO rows are
``{"prompt": [system?, user], "images": [...], COLUMN: value, ...}`` carrying every column the
rewards read (TRL hands them to the reward functions as keyword arguments). Which field is the
question, the reasoning and the images comes from the schema's roles in the build's manifest,
unless the recipe's ``data:`` names them. A video corpus (``data.video_frames: N``) gives each
row N frames sampled uniformly from its video (decord) as its images, since TRL's trainers
take images only. Rows the model cannot take (an image missing or undecodable, a video that
does not decode, a prompt over the token limit, no target text) are skipped and counted by reason;
rows whose images alone cost more tokens than the recipe allows (``image_budget``,
:mod:`r1data.budget`) are left out before anything is decoded.
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1data.errors import SpecError
from r1data.train.recipe import LoadedRecipe, RowsSpec, id_fraction

log = logging.getLogger(__name__)


@dataclass
class RowMapping:
    """The columns a recipe reads from a build, resolved against its schema."""

    prompt_template: str
    prompt_fields: list[str]
    completion: str | None
    images: str | None
    reward_columns: list[str]
    completion_template: str | None = None   # a Jinja SFT target (completion is then None)
    completion_fields: list[str] = field(default_factory=list)
    videos: str | None = None                # the video column when frames are sampled from it
    video_frames: int | None = None
    zoom: Any = None                         # the recipe's ZoomSpec: LOVE-R1's views (r1data.train.zoom_data)
    zoom_columns: list[str] = field(default_factory=list)
    audio: bool = False                      # the video's sound track goes into the prompt (r1data.train.audio)
    audio_for: dict[str, list[str]] | None = None   # only rows whose field is one of these values

    @property
    def visual(self) -> bool:
        """Whether examples carry images (stored ones or frames sampled from a video)."""
        return self.images is not None or self.videos is not None

    def columns(self, stage: str) -> list[str]:
        cols = ["id", *self.prompt_fields]
        if self.images:
            cols.append(self.images)
        if self.videos:
            cols.append(self.videos)
        cols.extend(self.zoom_columns)
        if self.audio and self.audio_for:
            cols.extend(self.audio_for)
        if stage == "sft":
            cols.extend([self.completion] if self.completion else self.completion_fields)
        if stage == "grpo":
            cols.extend(self.reward_columns)
        return list(dict.fromkeys(cols))


@dataclass
class Skipped:
    """Rows left out of a stage, by reason, with the first few ids of each."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)     # reason -> why, said of its first row

    def add(self, reason: str, row_id: Any, detail: str = "") -> None:
        self.counts[reason] += 1
        ids = self.examples.setdefault(reason, [])
        if len(ids) < 3:
            ids.append(str(row_id))
        if detail and reason not in self.details:
            self.details[reason] = f"{row_id}: {detail}"

    def merge(self, other: "Skipped") -> "Skipped":
        for reason, n in other.counts.items():
            self.counts[reason] += n
            ids = self.examples.setdefault(reason, [])
            ids.extend(other.examples.get(reason, [])[: max(0, 3 - len(ids))])
            if reason in other.details:
                self.details.setdefault(reason, other.details[reason])
        return self

    def to_dict(self) -> dict[str, Any]:
        return {r: {"rows": n, "examples": self.examples[r], **({"detail": self.details[r]} if r in self.details
                                                                 else {})}
                for r, n in self.counts.most_common()}

    def lines(self) -> list[str]:
        """One line per reason: how many rows, and why (for the log before training starts)."""
        return [f"{n:,} rows skipped: {r}" + (f" (e.g. {self.details[r]})" if r in self.details else
                                              f" (e.g. {', '.join(self.examples[r])})")
                for r, n in self.counts.most_common()]


def schema_role(schema: dict, role: str) -> str | None:
    """The first field of the build's schema with ``role`` (question, reasoning, image...)."""
    for name, f in schema.get("fields", {}).items():
        if f.get("role") == role:
            return name
    return None


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def template_fields(loaded: LoadedRecipe, template: str, fields: set[str], key: str) -> list[str]:
    """The row fields a Jinja template reads; an unknown one or a syntax error names ``data.KEY``."""
    from jinja2 import Environment, meta

    try:
        variables = sorted(meta.find_undeclared_variables(Environment().parse(template)))
    except Exception as e:  # jinja2.TemplateSyntaxError and friends
        raise loaded.error(f"a valid Jinja template ({e})", "data", key) from None
    unknown = [v for v in variables if v not in fields]
    if unknown:
        raise loaded.error(f"fields of the build's schema ({', '.join(sorted(fields))})", "data", key,
                           got=unknown)
    return variables


def resolve_mapping(loaded: LoadedRecipe, schema: dict, reward_columns: list[str], vision: bool) -> RowMapping:
    """Check the recipe's ``data:`` against the build's schema; fill the gaps from the roles."""
    d = loaded.recipe.data
    fields = set(schema.get("fields", {}))
    if d.prompt is None:
        question = schema_role(schema, "question")
        if question is None:
            raise loaded.error("a `prompt:` template (the schema has no field with role: question)", "data")
        template = "{{ %s }}" % question
    else:
        template = d.prompt
    variables = template_fields(loaded, template, fields, "prompt")
    completion_template, completion_fields = None, []
    completion = d.completion or schema_role(schema, "reasoning") or schema_role(schema, "answer")
    if d.completion is not None and is_template(d.completion):
        completion_template, completion = d.completion, None
        completion_fields = template_fields(loaded, d.completion, fields, "completion")
    elif completion is not None and completion not in fields:
        raise loaded.error(f"a field of the build's schema or a Jinja template ({', '.join(sorted(fields))})",
                           "data", "completion", got=completion)
    images = videos = None
    zoom_columns = []
    if d.zoom is not None:
        from r1data.train.zoom_data import zoom_fields

        zoom_columns = zoom_fields(loaded, fields, vision)
    if d.audio and not (vision and d.images != "none" and d.video_frames):
        raise loaded.error("video_frames (the audio is the sound track of the row's video)", "data", "audio",
                           got=True)
    if d.audio_for and (unknown := [f for f in d.audio_for if f not in fields]):
        raise loaded.error(f"fields of the build's schema ({', '.join(sorted(fields))})", "data", "audio_for",
                           got=unknown)
    if vision and d.images != "none" and (d.video_frames or d.zoom):
        videos = d.videos or schema_role(schema, "video")
        if videos is None or videos not in fields:
            raise loaded.error("a video field of the build's schema (for video_frames)", "data",
                               "videos" if d.videos else "video_frames", got=videos)
    elif vision and d.images != "none":
        images = d.images or schema_role(schema, "image")
        if images is not None and images not in fields:
            raise loaded.error("an image field of the build's schema or 'none'", "data", "images", got=images)
    system_vars: list[str] = []
    if is_template(loaded.recipe.system_prompt):
        # a system message per row (a corpus whose prompt states the screen size, say)
        try:
            system_vars = template_fields(loaded, loaded.recipe.system_prompt, fields, "prompt")
        except SpecError as e:
            raise loaded.error(e.expected, "system_prompt", got=e.got) from None
        variables = list(dict.fromkeys([*variables, *system_vars]))
    missing = [c for c in reward_columns if c not in fields]
    if missing:
        raise loaded.error(f"rewards reading columns the build has ({', '.join(sorted(fields))})", "rewards",
                           got=missing)
    return RowMapping(template, variables, completion, images, list(reward_columns), completion_template,
                      completion_fields, videos, d.video_frames if videos else None, d.zoom, zoom_columns, d.audio,
                      d.audio_for)


def read_rows(corpus: Any, rows: RowsSpec, columns: list[str], loaded: LoadedRecipe, stage: str) -> list[dict]:
    """The rows of a split (filtered by the recipe's ``where``, cut at ``limit``), as dicts."""
    import duckdb

    from r1data.errors import UsageError

    if rows.split not in corpus.splits:
        raise UsageError(f"{loaded.where(stage, 'rows', 'split')}: {stage}.rows.split: the build "
                         f"{corpus.path} has no split {rows.split!r} (splits: {', '.join(corpus.splits)})")
    con = corpus.duckdb()
    select = ", ".join(f'"{c}"' for c in columns)
    # the split name is a checked identifier of the build (one of corpus.splits), safe to inline
    sql = f"SELECT {select} FROM data WHERE split = '{rows.split}'"
    if rows.where:
        sql += f" AND ({rows.where})"
    if rows.limit and rows.fraction is None:
        sql += f" LIMIT {int(rows.limit)}"
    try:
        out = con.sql(sql).to_arrow_table().to_pylist()
    except duckdb.Error as e:
        raise loaded.error(f"a DuckDB condition over the corpus columns ({str(e).splitlines()[0]})",
                           stage, "rows", "where", got=rows.where) from None
    if rows.fraction is not None:   # a stable share of the split by id (disjoint SFT / GRPO rows)
        lo, hi = rows.fraction
        out = [r for r in out if lo <= id_fraction(r["id"]) < hi]
        out = out[: rows.limit] if rows.limit else out
    return out


def decode_images(value: Any, limit: int | None) -> list[Any] | None:
    """PIL images (RGB) from a stored image cell or list of cells; None when any is missing."""
    from PIL import Image

    cells = value if isinstance(value, list) else [value]
    cells = cells[:limit] if limit else cells
    out = []
    for cell in cells:
        data = cell.get("bytes") if isinstance(cell, dict) else cell
        if not data:
            return None
        try:
            with Image.open(io.BytesIO(data)) as im:
                out.append(im.convert("RGB"))
        except Exception:  # PIL raises several types for bad bytes; the reason is recorded by the caller
            return None
    return out or None


def stored_images(value: Any, limit: int | None) -> list[bytes] | None:
    """The encoded bytes of a stored image cell or list of cells (PNG, JPEG, GIF or WebP, by
    their magic number); None when any is missing or is not an image."""
    from r1data.annotators.request import sniff_mime

    cells = value if isinstance(value, list) else [value]
    cells = cells[:limit] if limit else cells
    out = []
    for cell in cells:
        data = cell.get("bytes") if isinstance(cell, dict) else cell
        if not data or sniff_mime(bytes(data[:16])) is None:
            return None
        out.append(bytes(data))
    return out or None


def sample_video_frames(path: Path, count: int) -> list[Any]:
    """``count`` frames spread evenly over the video (LongVILA's linspace), as RGB PIL images.

    Raises ``VideoError`` (its ``reason`` says why) when the file is missing or does not decode.
    """
    from PIL import Image

    from r1data.corpora.longvideo.video import VideoError, read_frames, uniform_indices, with_decoder

    def sample(vr: Any) -> Any:
        if len(vr) <= 0:
            raise VideoError("zero_length", f"{path.name}: no frames")
        return read_frames(vr, uniform_indices(len(vr), count))

    try:   # retried with one decoder thread when decord's threaded decoder fails (with_decoder)
        frames = with_decoder(path, sample)
    except VideoError:
        raise
    except Exception as e:  # decord's errors for frames that do not decode (a cut-off file)
        why = str(e).strip().splitlines()[-1][:160] if str(e).strip() else type(e).__name__
        raise VideoError("truncated_video", f"{path.name}: {why}") from None
    return [Image.fromarray(f).convert("RGB") for f in frames]


class RowSkipped(ValueError):
    """A row the model cannot take: ``reason`` as counted in :class:`Skipped`
    (``missing_image``, ``unreadable_video``), ``detail`` says why."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class RowFormatter:
    """Turns rows into TRL examples for one model (its processing class sets the token counts).

    ``root`` is the build folder: relative video paths (rendered videos) are read from under it.
    ``listens``: whether the model takes audio (default: whether ``processing_class`` decodes it).
    ``processing_class`` may be None where no token is counted (prompts for an API model):
    nothing here imports torch.
    """

    def __init__(self, loaded: LoadedRecipe, mapping: RowMapping, processing_class: Any,
                 root: str | Path | None = None, listens: bool | None = None):
        from jinja2 import Environment, StrictUndefined

        self.recipe = loaded.recipe
        self.mapping = mapping
        self.root = Path(root) if root is not None else None
        self.processing_class = processing_class
        self.tokenizer = getattr(processing_class, "tokenizer", processing_class)
        self.image_processor = getattr(processing_class, "image_processor", None)
        env = Environment(undefined=StrictUndefined, keep_trailing_newline=False)
        self.template = env.from_string(mapping.prompt_template)
        system = loaded.recipe.system_prompt
        self.system_template = env.from_string(system) if is_template(system) else None
        self.completion_template = (env.from_string(mapping.completion_template)
                                    if mapping.completion_template else None)
        # the video's sound as audio parts, for a model that listens (Qwen2.5-Omni's processor
        # decodes them: r1data.train.omni); ``listens`` says so where no processor is loaded here
        listens = hasattr(processing_class, "audio_features") if listens is None else listens
        self.audio = mapping.audio and listens
        self.sampling_rate = int(getattr(getattr(processing_class, "feature_extractor", None), "sampling_rate", 16000))
        if mapping.audio and not self.audio:
            log.warning("%s: data.audio is set but the model takes no audio: its prompts go without the "
                        "videos' sound", loaded.file)
        self.video_errors: dict[str, str] = {}   # row id -> why its video gave no frames (first few)
        self.last_error = ""                     # why the last row skipped was skipped
        # several questions share a video: decode each once (frames, or why it gave none)
        self._video_cache: dict[Path, list | Exception] = {}
        # LOVE-R1's zoom-in views (recipes with data.zoom)
        self.zoom = None
        if mapping.zoom is not None:
            from r1data.train.zoom_data import ZoomFormatter

            self.zoom = ZoomFormatter(self, mapping.zoom)

    def _target(self, row: dict) -> str | None:
        if self.completion_template is not None:
            return self.completion_template.render(**row)
        return row.get(self.mapping.completion) if self.mapping.completion else None

    def _turn(self, role: str, text: str, n_images: int = 0, audio: list[str] = ()) -> dict:  # type: ignore[assignment]
        if not self.mapping.visual:
            return {"role": role, "content": text}
        from r1data.train.audio import audio_text

        # the sound first, then the images (Omni-R1's RefAVS prompt: audio, frame, text)
        return {"role": role, "content": [{"type": "text", "text": audio_text(ref)} for ref in audio]
                + [{"type": "image"}] * n_images + [{"type": "text", "text": text}]}

    def _prompt(self, row: dict, images: list | None) -> list[dict]:
        """Raises :class:`RowSkipped` when the row's sound is wanted and does not decode."""
        turns = []
        if self.recipe.system_prompt:
            system = self.system_template.render(**row) if self.system_template else self.recipe.system_prompt
            turns.append(self._turn("system", system.strip()))
        turns.append(self._turn("user", self.template.render(**row).strip(), len(images or []), self._audio(row)))
        return turns

    def _audio(self, row: dict) -> list[str]:
        """The references of the row's sound track in windows (r1data.train.audio); none when the
        recipe does not ask for it (``audio``, ``audio_for``) or the video has no sound stream (a row that needs the sound is
        the build's to reject: check_audio)."""
        if not self.audio:
            return []
        if self.mapping.audio_for and not all(str(row.get(f)) in set(map(str, values))
                                              for f, values in self.mapping.audio_for.items()):
            return []
        from r1data.train.audio import AudioError, track_refs

        path = self._video_path(row)
        try:
            refs, _ = track_refs(path, self.sampling_rate)
        except AudioError as e:
            if e.reason == "no_audio_track":
                return []
            raise RowSkipped("unreadable_audio", str(e)) from None
        return refs

    def _video_path(self, row: dict) -> Path:
        path = Path(row.get(self.mapping.videos) or "")  # type: ignore[arg-type]
        return self.root / path if not path.is_absolute() and self.root is not None else path

    def _tokens(self, messages: list[dict], images: list | None, generation_prompt: bool) -> int:
        """Token count of the rendered chat, image placeholders expanded to their patch count."""
        refs = self._refs_in(messages)
        if refs:   # each reference counts as one audio token here, then as the tokens its window costs
            from r1data.train.audio import audio_token_count, load_ref, strip_refs

            messages = [{**m, "content": [{**p, "text": strip_refs(p["text"])} if "text" in p else p
                                          for p in m["content"]]} if isinstance(m["content"], list) else m
                        for m in messages]
        ids = self.tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=generation_prompt)
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        n = len(ids)
        for ref in refs:
            n += audio_token_count(len(load_ref(ref, self.sampling_rate))) - 1
        if images and self.image_processor is not None:
            merge = getattr(self.image_processor, "merge_size", 1) ** 2
            for im in images:
                n += self.image_processor.get_number_of_image_patches(im.height, im.width) // merge - 1
        return n

    @staticmethod
    def _refs_in(messages: list[dict]) -> list[str]:
        from r1data.train.audio import prompt_refs

        return prompt_refs(messages)

    def _frames(self, row: dict, skipped: Skipped) -> tuple[bool, list | None]:
        from r1data.corpora.longvideo.video import VideoError

        value = row.get(self.mapping.videos)  # type: ignore[arg-type]
        try:
            if not value:
                raise VideoError("unreadable_path", "no video path")
            path = Path(value)
            if not path.is_absolute() and self.root is not None:
                path = self.root / path
            if path not in self._video_cache:
                try:
                    self._video_cache[path] = sample_video_frames(path, self.mapping.video_frames or 1)
                except VideoError as e:
                    self._video_cache[path] = e
            frames = self._video_cache[path]
            if isinstance(frames, Exception):
                raise frames
            return True, frames
        except VideoError as e:
            skipped.add("unreadable_video", row.get("id"))
            self.last_error = str(e)
            if len(self.video_errors) < 10:
                self.video_errors[str(row.get("id"))] = str(e)
            return False, None

    def _images(self, row: dict, skipped: Skipped) -> tuple[bool, list | None]:
        if self.mapping.videos is not None:
            return self._frames(row, skipped)
        if self.mapping.images is None:
            return True, None
        images = decode_images(row.get(self.mapping.images), self.recipe.data.max_images)
        if images is None:
            skipped.add("missing_image", row.get("id"))
            self.last_error = f"{self.mapping.images}: an image is missing or does not decode"
            return False, None
        return True, images

    def prompt(self, row: dict, decode: bool = True) -> tuple[list[dict], list | None]:
        """One row's prompt turns (system?, user) and images, exactly as GRPO sees them (no token
        limit applied). Raises :class:`RowSkipped` when the row cannot be used.

        ``decode=False`` gives stored images as their bytes, undecoded (an API model takes them
        as stored; decoding and re-encoding costs more than the request); video frames are
        always PIL images."""
        if self.zoom is not None:
            return self.zoom.prompt(row)
        if not decode and self.mapping.images is not None and self.mapping.videos is None:
            images = stored_images(row.get(self.mapping.images), self.recipe.data.max_images)
            if images is None:
                raise RowSkipped("missing_image", f"{self.mapping.images}: an image is missing or is not PNG, "
                                                  "JPEG, GIF or WebP")
            return self._prompt(row, images), images
        skipped = Skipped()
        ok, images = self._images(row, skipped)
        if not ok:
            raise RowSkipped(next(iter(skipped.counts)), self.last_error)
        return self._prompt(row, images), images

    def sft(self, rows: list[dict], max_tokens: int | None) -> tuple[list[dict], Skipped]:
        """``messages`` (+ ``images``) examples; rows with no target text or too long are skipped."""
        out, skipped = [], Skipped()
        if self.zoom is not None:
            return self.zoom.sft(rows, max_tokens, skipped), skipped
        for row in rows:
            target = self._target(row)
            if not target or not str(target).strip():
                skipped.add("empty_completion", row.get("id"))
                continue
            ok, images = self._images(row, skipped)
            if not ok:
                continue
            try:
                messages = self._prompt(row, images) + [self._turn("assistant", str(target).strip())]
            except RowSkipped as e:
                skipped.add(e.reason, row.get("id"), e.detail)
                continue
            if max_tokens and (n := self._tokens(messages, images, False)) > max_tokens:
                skipped.add("too_long", row.get("id"), f"{n:,} tokens with the target > {max_tokens:,} "
                                                        "(data.max_sft_tokens)")
                continue
            example = {"messages": messages}
            if images is not None:
                example["images"] = images
            out.append(example)
        return out, skipped

    def grpo(self, rows: list[dict], max_prompt_tokens: int | None) -> tuple[list[dict], Skipped]:
        """``prompt`` (+ ``images``) examples with the reward columns; long prompts are skipped."""
        out, skipped = [], Skipped()
        if self.zoom is not None:      # the decoupled trainer decodes the frames itself
            return self.zoom.grpo(rows, skipped), skipped
        for row in rows:
            ok, images = self._images(row, skipped)
            if not ok:
                continue
            try:
                prompt = self._prompt(row, images)
            except RowSkipped as e:
                skipped.add(e.reason, row.get("id"), e.detail)
                continue
            if max_prompt_tokens and (n := self._tokens(prompt, images, True)) > max_prompt_tokens:
                skipped.add("too_long", row.get("id"), f"a prompt of {n:,} tokens > {max_prompt_tokens:,} "
                                                        "(data.max_prompt_tokens)")
                continue
            example: dict[str, Any] = {"id": row.get("id"), "prompt": prompt}
            example.update({c: row.get(c) for c in self.mapping.reward_columns})
            if images is not None:
                example["images"] = images
            out.append(example)
        return out, skipped


def to_dataset(examples: list[dict], skipped: Skipped, stage: str, loaded: LoadedRecipe) -> Any:
    """A ``datasets.Dataset`` (TRL's input); no row left is an error naming the stage's rows."""
    from datasets import Dataset

    if not examples:
        why = ", ".join(f"{n} {reason}" for reason, n in skipped.counts.most_common()) or "none selected"
        raise SpecError(str(loaded.file), f"{stage}.rows", f"rows left to train on (skipped: {why}; "
                        "loosen `where`, the token limits under `data:` or the images)",
                        line=loaded.lines.line((stage, "rows")) or loaded.lines.line((stage,)))
    return Dataset.from_list(examples)
