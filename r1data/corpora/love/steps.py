"""The steps of the love corpus, in spec order (``pipelines/love.yaml``)::

    render_procedural_video -> probe_video -> cut_clips -> caption_clips     (longvideo's steps)
    -> plan_zoom_questions -> check_clues -> clue_frames -> annotate (zoom CoT) -> annotate (answer CoT)
    -> format_love_rows -> plan_frames -> verify -> dedup -> split
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

from r1data.corpora.love import protocol
from r1data.corpora.love.questions import KINDS, LETTERS, question_from_log, zoom_interval
from r1data.corpora.longvideo.video import VideoError, read_frames, with_decoder
from r1data.errors import UsageError
from r1data.rewards.love import ANSWER_PREFIX, ZOOM_PREFIX, parse_zoom
from r1data.steps.base import Fraction, PositiveInt, Reject, StepContext, step


def option_lines(texts: list[str]) -> list[str]:
    """``["A. ...", "B. ...", ...]``: the options as LOVE-R1's prompts list them."""
    return [f"{LETTERS[i]}. {t}" for i, t in enumerate(texts)]


@step("plan_zoom_questions", expands=True)
def plan_zoom_questions(rows: list[dict], ctx: StepContext, *,
                        kinds: list[str] = list(KINDS)) -> Iterator[dict | Reject]:
    """One question per video and kind from its event log (``question_from_log``); a released
    question (a row that has one) passes through. Each row gets ``question_text``: the question,
    its options and LOVE-R1's instruction, exactly as the model is asked. A video whose log supports
    none of the kinds, or a video without a log or a question, is rejected with the reason."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise UsageError(f"plan_zoom_questions: kinds must be some of {', '.join(KINDS)}, got {kinds}")
    for row in rows:
        if row.get("question"):
            row["question_text"] = protocol.question_text(row["question"], option_lines(row["option_texts"]))
            yield row
            continue
        script = row.get("script")
        if script is None:
            yield Reject(row, "no_event_log", "a video without an event log or a released question has no "
                                              "zoom-in question (use --source cgbench for released questions)")
            continue
        made = 0
        base = {k: v for k, v in row.items() if k != "clip_frames"}
        why = []
        for kind in kinds:
            try:
                q = question_from_log(script, kind, ctx.rng(row["id"], kind))
            except ValueError as e:
                why.append(f"{kind}: {e}")
                ctx.stats.count(f"kind_unsupported_{kind}")
                continue
            out = dict(base)
            out.update(id=f"{row['id']}-{kind}", question=q.question, option_texts=list(q.options), answer=q.answer,
                       clues=[{"start": c.start, "end": c.end, "event": c.event} for c in q.clues],
                       question_kind=kind, zoom_question=q,
                       question_text=protocol.question_text(q.question, option_lines(list(q.options))))
            made += 1
            yield out
        if not made:
            yield Reject(row, "no_question", "; ".join(why))


@step("check_clues")
def check_clues(rows: list[dict], ctx: StepContext, *, tolerance: float = 0.5) -> Iterator[dict | Reject]:
    """Every clue interval must lie in the video: ``0 <= start < end <= duration + tolerance``
    (``clue_past_end``, ``bad_clue`` otherwise). Writes the zoom hint (``hint_start``/``hint_end``):
    the interval a zoom step should ask for, integer seconds around the clues within LOVE-R1's
    zoom rules (a video too short to zoom into is rejected: ``too_short_to_zoom``)."""
    for row in rows:
        duration = float(row["video_duration"])
        bad = None
        for c in row.get("clues") or []:
            s, e = float(c["start"]), float(c["end"])
            if e > duration + tolerance:
                bad = ("clue_past_end", f"clue [{s:g}, {e:g}] ends after the video's {duration:.2f} s")
                break
            if not 0 <= s < e:
                bad = ("bad_clue", f"clue [{s:g}, {e:g}] is not an interval inside the video")
                break
        if not row.get("clues"):
            bad = ("bad_clue", "no clue interval")
        if bad:
            yield Reject(row, *bad)
            continue
        try:
            row["hint_start"], row["hint_end"] = zoom_interval([(c["start"], c["end"]) for c in row["clues"]], duration)
        except ValueError as e:
            yield Reject(row, "too_short_to_zoom", str(e))
            continue
        yield row


def _jpeg(frame) -> bytes:  # type: ignore[no-untyped-def]
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


@step("clue_frames")
def clue_frames(rows: list[dict], ctx: StepContext, *, frames: PositiveInt = 16, pad: float = 5.0,
                profile: str = "programmatic") -> Iterator[dict | Reject]:
    """For an API answer-CoT profile: ``frames`` JPEG frames over the first clue +-``pad`` s (at most
    two a second), as LOVE-R1 gave GPT-4o (``build_cgbench_answer_cot.py``), in ``clue_frames``.
    With the programmatic profile (the offline default: ``profile`` here or ``--annotator``) nothing
    is decoded."""
    chosen = ctx.options.get("annotator") or profile
    for row in rows:
        if chosen == "programmatic":
            row["clue_frames"] = []
            yield row
            continue
        first = row["clues"][0]
        start, end = float(first["start"]) - pad, float(first["end"]) + pad

        def read(vr, start: float = start, end: float = end):  # type: ignore[no-untyped-def]
            fps = float(vr.get_avg_fps())
            lo, hi = max(int(start * fps), 0), min(int(end * fps), len(vr) - 1)
            ids = protocol.linspace_ids(lo, max(lo, hi), max(1, min(frames, int((end - start) * 2))))
            return read_frames(vr, ids)

        try:
            row["clue_frames"] = [_jpeg(f) for f in with_decoder(row["video_path"], read)]
        except VideoError as e:
            yield Reject(row, e.reason, e.detail)
            continue
        yield row


def cut_after_box(text: str) -> str:
    r"""The text up to the end of its first ``\boxed{...}`` (LOVE-R1 keeps ``infos + \boxed{X}``)."""
    head, sep, tail = text.partition("\\boxed{")
    if not sep:
        return text.strip()
    inner, close, _ = tail.partition("}")
    return (head + sep + inner + close).strip()


def normalize_step(text: str | None, prefix: str) -> str:
    """A CoT step as the SFT data holds it: the prefix first, cut after the first box; "" stays ""."""
    text = (text or "").strip()
    if not text:
        return ""
    text = cut_after_box(text)
    body = text[len(prefix):] if text.startswith(prefix) else text
    return prefix + body.lstrip()


@step("format_love_rows")
def format_love_rows(rows: list[dict], ctx: StepContext, *, grounding_fraction: Fraction = 0.25) -> Iterator[dict]:
    """The released columns: ``problem``, ``options`` (``A. ...``), ``problem_type``, ``solution``
    (``<answer>X</answer>``), ``answer`` (the letter), ``zoomin_intervals`` (none zoomed yet) and ``tgt``:
    the clue intervals for a grounding row (``grounding_fraction`` of the rows, by the row's seeded
    generator; its prompt is force-prefixed with the zoom request in RL), null for a multiple-choice
    row. The CoT steps get their prefixes and are cut after their first box; ``cot_zoom`` is the
    interval the zoom step names (null when there is no CoT or it does not read)."""
    for row in rows:
        duration = float(row["video_duration"])
        row["problem"] = row["question"]
        row["options"] = option_lines(row["option_texts"])
        row["problem_type"] = "multiple choice"
        row["solution"] = f"<answer>{row['answer']}</answer>"
        row["duration"] = duration
        row["data_type"] = "video"
        row["zoomin_intervals"] = []
        grounding = bool(ctx.rng(row["id"], "task").random() < grounding_fraction)
        row["task"] = "grounding" if grounding else "multiple choice"
        row["tgt"] = [[float(c["start"]), float(c["end"])] for c in row["clues"]] if grounding else None
        row["zoom_cot"] = normalize_step(row.get("zoom_cot"), ZOOM_PREFIX)
        row["answer_cot"] = normalize_step(row.get("answer_cot"), ANSWER_PREFIX)
        zoom = parse_zoom(row["zoom_cot"], duration, []) if row["zoom_cot"] else None
        row["cot_zoom"] = list(zoom.interval) if zoom is not None and zoom.kind == "zoom" else None
        row["has_cot"] = bool(row["zoom_cot"] and row["answer_cot"])
        script = row.get("script")
        row["event_log"] = json.loads(script.to_json()) if script is not None else None
        yield row


def frame_plan(ids: list[int], fps: float, height: int, width: int, budget: int) -> dict:
    h, w = protocol.frame_size(height, width, budget)
    return {"indices": ids, "seconds": protocol.frame_seconds(ids, fps), "height": h, "width": w}


@step("plan_frames")
def plan_frames(rows: list[dict], ctx: StepContext, *, max_fast_frames: PositiveInt = 768,
                fast_pixels: PositiveInt = 32 * 28 * 28, short_video_seconds: float = 60.0,
                slow_pixels: PositiveInt = 256 * 28 * 28,
                max_slow_frames: PositiveInt = 16) -> Iterator[dict]:
    """LOVE-R1's frame plans of each row at the RL trainer's values (the defaults): ``fast_frames``, the
    frame indices and drawn seconds of the full video's view and the size each is resized to;
    ``slow_frames``, the same for the CoT's zoom interval (empty without one). ``r1data train``
    recomputes them from the recipe's ``data.zoom``; these record what the defaults show."""
    config = protocol.FramePlanConfig(max_fast_frames=max_fast_frames, fast_pixels=fast_pixels,
                                      short_video_seconds=short_video_seconds, slow_pixels=slow_pixels,
                                      max_slow_frames=max_slow_frames)
    for row in rows:
        n, fps = int(row["video_frames"]), float(row["video_fps"])
        h, w = int(row["video_height"]), int(row["video_width"])
        ids = protocol.fast_frame_ids(n, fps, config)
        row["fast_frames"] = frame_plan(ids, fps, h, w, config.fast_budget(n / fps))
        row["slow_frames"] = []
        if row.get("cot_zoom"):
            s, e = row["cot_zoom"]
            ids = protocol.slow_frame_ids(s, e, n, fps, max_slow_frames, config)
            row["slow_frames"] = [{"start": int(s), "end": int(e), **frame_plan(ids, fps, h, w, config.slow_pixels)}]
        yield row
