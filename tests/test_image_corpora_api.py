"""The image corpora built with an API profile swapped in (``--annotator``): a stand-in OpenAI
server on 127.0.0.1 answers each prompt as a good model would (from ground truth the test
knows), except for a few families it answers malformed or wrong; the replies are read into
the rows' fields and the corpora's verifiers check them."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from r1data import open_corpus
from tests.servers import OpenAIChatServer


def _rows(out: Path) -> list[dict]:
    corpus = open_corpus(out)
    return [r for s in corpus.manifest["splits"] for r in corpus.table(s).to_pylist()]


def _profile(tmp_path: Path, server: OpenAIChatServer, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TEST_VLM_KEY", "sk-test")
    path = tmp_path / "test-vlm.yaml"
    path.write_text(f"provider: openai\nmodel: test-vlm\nbase_url: {server.url}\napi_key_env: TEST_VLM_KEY\n"
                    "max_concurrency: 8\nmax_retries: 0\nparse_retries: 0\n")
    return path


# --- vqa_verify -------------------------------------------------------------------------------

_OBJ_LINE = re.compile(r"^- \[(\d+)\] ([\w ]+?)(?: \((\w+)\))?: \[(-?\d+), (-?\d+), (-?\d+), (-?\d+)\]$", re.M)


class GlanceFocusModel:
    """Replies with the programmatic caption and (integer) boxes of the row the prompt is about,
    found by its question and the object list the prompt shows; count questions get a reply
    without <bbox>, colour questions a wrong answer."""

    def __init__(self, truth: list[dict]) -> None:
        self.truth = truth
        self.images: list[int] = []

    def _row(self, prompt: str) -> dict:
        question = re.search(r"## Question\n(.*?)\n## Correct answer", prompt, re.S).group(1).strip()  # type: ignore[union-attr]
        shown = {int(m[0]): (m[1], m[2], [int(v) for v in m[3:]]) for m in _OBJ_LINE.findall(prompt)}
        for r in self.truth:
            objs = {o["id"]: o for o in r["objects"] if o["box"] is not None}
            if r["question"] == question and objs.keys() == shown.keys() and all(
                    objs[i]["category"] == c and objs[i]["color"] == col
                    and max(abs(a - b) for a, b in zip(objs[i]["box"], box)) <= 1
                    for i, (c, col, box) in shown.items()):
                return r
        raise AssertionError(f"no known row for the prompt: {question!r}")

    def __call__(self, prompt: str, n_images: int) -> str:
        self.images.append(n_images)
        r = self._row(prompt)
        boxes = json.dumps([[round(v) for v in b] for b in r["bboxs"]]).replace(" ", "")
        if r["question_type"] == "count":
            return f"<caption>{r['image_caption']}</caption><answer>{r['answer']}</answer>"
        answer = "not sure" if r["question_type"] == "color" else r["answer"]
        return f"<caption>{r['image_caption']}</caption><bbox>{boxes}</bbox><answer>{answer}</answer>"


def test_vqa_verify_api_replies_become_captions_boxes_and_completions(tmp_path: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from r1data.corpora.vqa_verify.glance_focus import to_model_frame
    from r1data.parsing import parse_boxes2d, tag_content

    prog = tmp_path / "prog"
    assert cli("build", "vqa_verify", "--size", "60", "-o", prog, "--no-progress").exit_code == 0
    truth = _rows(prog) + [json.loads(r) for r in open_corpus(prog).rejects().column("record").to_pylist()]
    truth = [r for r in truth if r.get("bboxs")]
    by_id = {r["id"]: r for r in truth}
    model = GlanceFocusModel(truth)
    with OpenAIChatServer(respond=model) as server:
        out = tmp_path / "api"
        result = cli("build", "vqa_verify", "--annotator", _profile(tmp_path, server, monkeypatch),
                     "--size", "12", "-o", out, "--no-progress")
    assert result.exit_code == 0, result.stderr
    assert model.images and set(model.images) == {1}          # the image went with every prompt
    rows = _rows(out)
    assert len(rows) == 12
    for r in rows:
        ref = by_id[r["id"]]
        assert r["question_type"] not in ("count", "color")
        assert r["image_caption"] == ref["image_caption"]
        # bboxs in original pixels, as the model gave them; solution's in the Qwen2.5-VL frame
        assert r["bboxs"] == [[float(round(v)) for v in b] for b in ref["bboxs"]]
        assert parse_boxes2d(tag_content(r["solution"], "bbox")) == \
            [list(map(float, b)) for b in to_model_frame(r["bboxs"], r["width"], r["height"])]
        assert tag_content(r["solution"], "answer") == r["answer"]
    rejects = Counter((r["step"], r["reason"]) for r in open_corpus(out).rejects().to_pylist())
    assert rejects[("parse_glance_focus", "unparsable_reply")] >= 1            # count: no <bbox>
    assert rejects[("verify", "vqa_verify_answer_matches_truth")] >= 1         # colour: wrong answer
    details = [r["detail"] for r in open_corpus(out).rejects().to_pylist() if r["reason"] == "unparsable_reply"]
    assert all("no <bbox>" in d for d in details)


# --- earthreason ------------------------------------------------------------------------------

class QuestionModel:
    """Replies with implicit questions from the corpus's own bank; for vehicles a malformed
    object (no "questions" list), for roads a question that names the road."""

    def __init__(self) -> None:
        self.images: list[int] = []

    def __call__(self, prompt: str, n_images: int) -> str:
        from r1data.corpora.earthreason.questions import EMPTY_ANSWER, PURPOSES

        self.images.append(n_images)
        cls = re.search(r'The target is (?:the )?"(\w+)"', prompt).group(1)  # type: ignore[union-attr]
        empty = "NOT in this image" in prompt
        if cls == "vehicle":
            return json.dumps({"question": "What moves here?", "answer": "The cars."})
        questions = [q.format(where="") for q in PURPOSES[cls]]
        if cls == "road":
            questions[1] = "Which road leads to the houses?"
        answer = EMPTY_ANSWER.lower() if empty else f"The {cls} region of the image."
        return "```json\n" + json.dumps({"questions": questions, "answer": answer}) + "\n```"


def test_earthreason_api_replies_become_questions_and_answers(tmp_path: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from r1data.corpora.earthreason.questions import EMPTY_ANSWER, PURPOSES

    model = QuestionModel()
    with OpenAIChatServer(respond=model) as server:
        out = tmp_path / "api"
        result = cli("build", "earthreason", "--annotator", _profile(tmp_path, server, monkeypatch),
                     "--size", "16", "-o", out, "--no-progress")
    assert result.exit_code == 0, result.stderr
    assert model.images and set(model.images) == {1}
    rows = _rows(out)
    assert len(rows) == 16
    for r in rows:
        assert r["target_class"] not in ("vehicle", "road")
        assert r["questions"] == [q.format(where="") for q in PURPOSES[r["target_class"]]]
        assert r["question"] == r["questions"][0]
        assert r["answer"] == (EMPTY_ANSWER if r["empty"] else f"The {r['target_class']} region of the image.")
    rejects = open_corpus(out).rejects().to_pylist()
    by = Counter((r["step"], r["reason"]) for r in rejects)
    assert by[("parse_question_reply", "unparsable_reply")] >= 1                 # vehicles
    assert by[("verify", "earthreason_no_class_leak")] >= 1                      # roads
    assert all("'questions' is not a non-empty list" in r["detail"]
               for r in rejects if r["reason"] == "unparsable_reply")


# --- embodied_points --------------------------------------------------------------------------

class PointingModel:
    """Replies with the programmatic worked answer of the task the prompt shows (found by its
    problem text); VTG traces get a <think> without <answer>, REG tasks a point in a corner."""

    def __init__(self, truth: list[dict]) -> None:
        self.by_problem = {r["problem"].replace("<image>", "").strip(): r for r in truth}
        self.images: list[int] = []

    def __call__(self, prompt: str, n_images: int) -> str:
        self.images.append(n_images)
        task = prompt.split("then give integer pixel coordinates.\n\n", 1)[1].split("\n\nOutput ONLY:")[0].strip()
        r = self.by_problem[task]
        if r["ability"] == "VTG":
            return "<think>The object moves to the right.</think>"
        if r["ability"] == "REG":
            return "<think>It is in the corner.</think><answer><point>[[0, 0]]</point></answer>"
        return r["solution"]


def test_embodied_points_api_replies_are_checked_against_the_targets(tmp_path: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    prog = tmp_path / "prog"
    assert cli("build", "embodied_points", "--size", "40", "-o", prog, "--no-progress").exit_code == 0
    truth = _rows(prog) + [json.loads(r) for r in open_corpus(prog).rejects().column("record").to_pylist()]
    truth = [r for r in truth if r.get("problem") and r.get("solution")]
    by_id = {r["id"]: r for r in truth}
    model = PointingModel(truth)
    with OpenAIChatServer(respond=model) as server:
        out = tmp_path / "api"
        result = cli("build", "embodied_points", "--annotator", _profile(tmp_path, server, monkeypatch),
                     "--size", "10", "-o", out, "--no-progress")
    assert result.exit_code == 0, result.stderr
    assert model.images and set(model.images) == {1}
    rows = _rows(out)
    assert len(rows) == 10
    assert {r["ability"] for r in rows} == {"RRG", "OFG"}
    assert all(r["solution"] == by_id[r["id"]]["solution"] for r in rows)
    rejects = Counter((r["step"], r["reason"]) for r in open_corpus(out).rejects().to_pylist())
    assert rejects[("annotate", "unparsable_output")] >= 1                        # VTG: no <answer>
    assert rejects[("verify", "embodied_points_solution_scores")] >= 1            # REG: wrong point
