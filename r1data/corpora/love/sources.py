"""``cgbench``: CG-Bench's clue-grounded questions over its long videos (a released source of love).

LOVE-R1 built its zoom-in CoT and hard RL rows from CG-Bench (``process_data/build_cgbench_*.py``,
``get_hard_example_cgbench.py``). The release as those scripts and VLMEvalKit's ``cgbench.py``
read it (HumanMLLM/LOVE-R1 @ aa1facb; CG-Bench/CG-Bench README)::

    ROOT/cgbench.json             a JSON list; each question: qid, video_uid, question, choices (option
                                  texts), right_answer (a letter), clue_intervals ([[s, e], ...] seconds),
                                  duration, domain, sub_category
    ROOT/cg_videos_720p/UID.mp4   the videos

``cgbench_mini.json`` (the 3k-question subset) is read with ``--source-param annotations=cgbench_mini.json``.
Verified: the field names and the layout, from those scripts; not verified: a sample of the files
themselves (the release is gated on the Hub). A question whose fields are missing or of the wrong type
is rejected naming the file and entry; a missing video is rejected by ``probe_video``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from r1data.errors import UsageError
from r1data.sourcefiles import BadRecord, check_object, int_field, list_field, load_json_file, text_field
from r1data.steps.base import Reject, Source, StepContext, source

LETTERS = "ABCDEFGHIJK"


def parse_question(rec: object, where: str, videos: Path) -> dict:
    """One CG-Bench entry as a love question row; :class:`BadRecord` naming what is wrong."""
    rec = check_object(rec, where)
    qid = int_field(rec, "qid", where)
    uid = text_field(rec, "video_uid", where)
    question = text_field(rec, "question", where)
    choices = list_field(rec, "choices", where)
    if not 2 <= len(choices) <= len(LETTERS) or not all(isinstance(c, str) and c.strip() for c in choices):
        raise BadRecord("bad_field", f"{where}: 'choices' should be 2 to {len(LETTERS)} option texts")
    answer = text_field(rec, "right_answer", where).strip()[:1].upper()
    if answer not in LETTERS[: len(choices)]:
        raise BadRecord("bad_field", f"{where}: 'right_answer' {rec.get('right_answer')!r} is not one of the "
                                     f"{len(choices)} option letters")
    clues = []
    for k, iv in enumerate(list_field(rec, "clue_intervals", where)):
        if (not isinstance(iv, list) or len(iv) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in iv)):
            raise BadRecord("bad_field", f"{where}: clue_intervals[{k}] should be [start, end] in seconds")
        clues.append({"start": float(iv[0]), "end": float(iv[1]), "event": ""})
    if not clues:
        raise BadRecord("missing_field", f"{where}: no clue interval")
    path = videos / f"{uid}.mp4"
    return {"id": f"cgbench-{qid}", "video_id": uid, "video_path": str(path), "videos": str(path),
            "source": "cgbench", "script": None, "question": question.strip(), "option_texts": choices,
            "answer": answer, "clues": clues, "question_kind": str(rec.get("sub_category") or rec.get("domain") or ""),
            "zoom_question": None}


@source("cgbench")
class CGBench(Source):
    """The questions of CG-Bench's ``annotations`` file under ``dir``, in file order (see the module docstring)."""

    takes_dir = True

    def __init__(self, ctx: StepContext, *, dir: str, annotations: str = "cgbench.json",
                 videos: str = "cg_videos_720p"):
        self.ctx = ctx
        self.root = Path(dir).expanduser().resolve()
        if not self.root.is_dir():
            raise UsageError(f"--source-dir {dir}: no such folder (source cgbench reads ROOT/{annotations} and "
                             f"ROOT/{videos}/UID.mp4)")
        path = self.root / annotations
        if not path.exists():
            found = sorted(p.name for p in self.root.glob("cgbench*.json"))
            raise UsageError(f"--source-dir {dir}: no {annotations}"
                             + (f" (found {', '.join(found)}: --source-param annotations=NAME)" if found else ""))
        data = load_json_file(path, "CG-Bench questions")
        if not isinstance(data, list):
            raise UsageError(f"{path}: expected a JSON list of questions, got {type(data).__name__}")
        ctx.record_file(path)
        self.entries = data
        self.name = path.name
        self.videos = self.root / videos

    def __len__(self) -> int:
        return len(self.entries)

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        for i in range(start, len(self.entries)):
            where = f"{self.name}[{i}]"
            try:
                yield parse_question(self.entries[i], where, self.videos)
            except BadRecord as e:
                yield Reject({"id": where, "video_id": "", "source": "cgbench"}, e.reason, e.detail)
