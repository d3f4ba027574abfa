"""longvideo with an API profile swapped in (``--annotator``): a stand-in OpenAI server on 127.0.0.1
captions the clips, writes the questions (some malformed) and rewrites the reasoning (some leaking)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path


from r1data import open_corpus
from tests.servers import OpenAIChatServer
from tests.test_longvideo import tiny_workspace

QA = """QUESTION: What does the {thing} do in the video?
OPTIONS:
A. It stays still the whole time
B. It moves across the frame
C. It changes colour
D. It splits in two
ANSWER: B
REASONS:
##### From {span}:
- The captions say it moves across the frame.
- Nothing else changes.
"""


class ScriptedModel:
    """Answers like a VLM/LLM would, by prompt: captions, questions, rewrites."""

    def __init__(self) -> None:
        self.caption_images: list[int] = []

    def __call__(self, prompt: str, n_images: int) -> str:
        if prompt.startswith("Elaborate on the visual"):
            self.caption_images.append(n_images)
            return "A bright shape moves across a dark frame."
        if "generate a challenging multiple-choice question" in prompt:
            kind = re.search(r"related to (\w+)", prompt).group(1).lower()
            first = re.search(r"^From (\S+ to \S+),", prompt, re.M).group(1)
            if kind == "plot":                               # a fifth option: not in the format
                return QA.format(thing=kind, span=first).replace("D. It splits in two", "D. x\nE. y")
            return QA.format(thing=kind, span=first)
        if "Rewrite the notes" in prompt:
            letter = re.search(r"Correct answer: ([A-D])", prompt).group(1)
            kind = re.search(r"What does the (\w+) do", prompt).group(1)
            when = " at 0:00:05" if kind == "spatial" else ""   # a timestamp left in: leakage
            return (f"Looking at the video, the shape moves across the frame{when}. Nothing else changes. "
                    f"Therefore, the answer is {letter}.")
        raise AssertionError(f"unexpected prompt: {prompt[:80]}")


def test_api_profile_captions_asks_and_rewrites(tmp_path: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TEST_LLM_KEY", "sk-test")
    model = ScriptedModel()
    with OpenAIChatServer(respond=model) as server:
        ws = tiny_workspace(tmp_path, frames_cached=0)
        (ws / "annotators").mkdir()
        (ws / "annotators" / "test-llm.yaml").write_text(
            f"provider: openai\nmodel: test-model\nbase_url: {server.url}\napi_key_env: TEST_LLM_KEY\n"
            "max_retries: 0\nparse_retries: 0\n")
        out = tmp_path / "out"
        result = cli("build", "longvideo", "--workspace", ws, "--annotator", "test-llm", "--size", "6",
                     "-o", out, "--no-progress")
    assert result.exit_code == 0, result.stderr
    corpus = open_corpus(out)
    rows = corpus.table().to_pylist()
    assert len(rows) == 6
    # every clip was captioned from its 2 sampled frames, and the captions are stored per clip
    assert model.caption_images and set(model.caption_images) == {2}
    assert all(c["caption"] == "A bright shape moves across a dark frame." for r in rows for c in r["captions"])
    # the model always answers B; balancing spreads the correct option over the letters
    assert Counter(r["answer"] for r in rows).most_common(1)[0][1] <= 2
    for r in rows:
        assert r["options"]["ABCD".index(r["answer"][8])] == "It moves across the frame"
        assert r["reasoning"].endswith(f"the answer is {r['answer'][8]}.")
    assert {r["problem_type"] for r in rows} == {"temporal", "goal"}
    rejects = Counter((r["step"], r["reason"]) for r in corpus.rejects().to_pylist())
    assert rejects[("parse_questions", "bad_options")] >= 3          # the plot questions
    assert rejects[("verify", "longvideo_no_leakage")] >= 3          # the spatial rewrites
