"""GoT-R1's judged terms asked of an API model through an annotator profile: the real openai
client pointed at the OpenAI stand-in server on 127.0.0.1, the real AnnotatorClient and cache."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from r1data import rewards
from r1data.errors import UsageError
from r1data.rewards.got_judge import ProfileJudge, forget_judges, parse_score
from tests.servers import OpenAIChatServer

PLAN = "A <|obj_start|>red cat<|obj_end|> <|box_start|>(0,0),(500,500)<|box_end|> on a mat <begin_of_image>"
# what the stand-in judge answers, by the term its prompt asks about (scale 0-10)
SCORES = {"SEMANTIC FIDELITY": 8, "SPATIAL LAYOUT": 6, "GENERATED IMAGE": 5}


def png(color: str = "red") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buf, format="PNG")
    return buf.getvalue()


def judge_answer(prompt: str, n_images: int) -> str:
    """The stand-in judge: a fixed score per term; captions starting with a marker get a bad answer."""
    marker = re.search(r"## Image prompt\n(\w+)", prompt)
    bad = {"prose": "The layout looks good to me, I would say eight.", "range": '{"score": 11}',
           "text": '{"score": "7"}', "noscore": '{"rating": 7}'}.get(marker.group(1) if marker else "")
    if bad is not None:
        return bad
    kind = next(k for k in SCORES if k in prompt)
    return json.dumps({"score": SCORES[kind]})


@pytest.fixture
def server():  # type: ignore[no-untyped-def]
    with OpenAIChatServer(respond=judge_answer) as s:
        yield s


@pytest.fixture
def profile(server, tmp_path: Path, monkeypatch) -> str:  # type: ignore[no-untyped-def]
    """A profile file for the stand-in, the key in the environment, a private response cache."""
    monkeypatch.setenv("R1DATA_TEST_KEY", "sk-test")
    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "judge.yaml"
    path.write_text(f"provider: openai\nmodel: judge-model\nbase_url: {server.url}\napi_key_env: R1DATA_TEST_KEY\n"
                    "max_concurrency: 4\nmax_retries: 1\nparse_retries: 1\nbackoff_initial_s: 0.01\n"
                    "backoff_max_s: 0.05\ntimeout_s: 5\ntemperature: 0\n")
    yield str(path)
    forget_judges()


def test_parse_score_is_strict() -> None:
    assert parse_score({"score": 7}) == 0.7 and parse_score({"score": 0}) == 0.0 and parse_score({"score": 10}) == 1.0
    assert parse_score({"score": 2.5}, scale=5) == 0.5
    for bad in ({"score": 11}, {"score": -1}, {"score": "7"}, {"score": True}, {"score": float("nan")},
                {"score": None}, {"rating": 7}, [7], "7", None):
        assert parse_score(bad) is None, bad


def test_judged_scores_flow_into_the_total_and_the_cache_answers_a_rerun(server, profile) -> None:  # type: ignore[no-untyped-def]
    total = rewards.load("got.total", judge=profile)
    image = png()
    cols = dict(caption=["a red cat on a mat"] * 3, image=[image, image, image],
                grounded_boxes=[[[0, 0, 500, 500]], [[0, 0, 250, 500]], None])
    got = total(prompts=None, completions=[PLAN] * 3, **cols)
    # R_PI 5/10 x (R_sem 8/10 + R_spa 6/10) x R_RI (1, 0.5); the third row has no R_RI: not asked
    assert got == [pytest.approx(0.5 * (0.8 + 0.6) * 1.0), pytest.approx(0.5 * (0.8 + 0.6) * 0.5), None]
    assert server.calls == 6                                     # 3 terms x 2 rows, in one batch
    by_term = {k: [s for s in server.seen if k in s.prompt] for k in SCORES}
    assert [len(v) for v in by_term.values()] == [2, 2, 2]
    assert all(s.image_sizes == [] for s in by_term["SEMANTIC FIDELITY"])           # text only
    assert all(len(s.image_sizes) == 1 for s in by_term["SPATIAL LAYOUT"])          # the layout canvas
    assert all(s.image_sizes == [len(image)] for s in by_term["GENERATED IMAGE"])   # the image as given
    assert all("a red cat on a mat" in s.prompt for s in server.seen)
    assert all(PLAN in s.prompt for s in by_term["SEMANTIC FIDELITY"] + by_term["SPATIAL LAYOUT"])

    again = total(prompts=None, completions=[PLAN] * 3, **cols)
    assert again == got and server.calls == 6                    # every answer from the cache
    judge = rewards.got.resolve_judge(profile)
    assert judge.usage.cache_hits == 6

    # the single terms use the same judge (and the same cached answers)
    assert rewards.load("got.semantic", judge=profile)(completions=[PLAN], caption=["a red cat on a mat"]) == [0.8]
    assert rewards.load("got.spatial", judge=profile)(completions=[PLAN], caption=["a red cat on a mat"]) == [0.6]
    assert server.calls == 6


def test_an_unparsable_or_out_of_range_answer_scores_none(server, profile) -> None:  # type: ignore[no-untyped-def]
    semantic = rewards.load("got.semantic", judge=profile)
    got = semantic(completions=[PLAN] * 5, caption=["a red cat", "prose cat", "range cat", "text cat", "noscore cat"])
    assert got == [0.8, None, None, None, None]
    # prose is not JSON: asked again once (parse_retries 1), then given up; the JSON answers are final
    assert server.calls == 1 + 2 + 1 + 1 + 1
    total = rewards.load("got.total", judge=profile)
    row = dict(image=[png()], grounded_boxes=[[[0, 0, 500, 500]]])
    assert total(completions=[PLAN], caption=["range cat"], **row) == [None]        # one term missing: None
    assert total(completions=[PLAN], caption=["a red cat"], **row) == [pytest.approx(0.5 * 1.4)]


def test_a_row_without_an_image_is_not_judged_for_r_pi(server, profile) -> None:  # type: ignore[no-untyped-def]
    pi = rewards.load("got.prompt_image", judge=profile)
    assert pi(completions=[PLAN, PLAN], caption=["a red cat"] * 2, image=[None, png("blue")]) == [None, 0.5]
    assert server.calls == 1


def test_profile_errors_are_one_line_usage_errors(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("R1DATA_TEST_KEY", raising=False)
    with pytest.raises(UsageError, match="programmatic"):
        ProfileJudge("programmatic")
    path = tmp_path / "nokey.yaml"
    path.write_text("provider: openai\nmodel: m\nbase_url: http://127.0.0.1:9/v1\napi_key_env: R1DATA_TEST_KEY\n")
    with pytest.raises(UsageError, match="R1DATA_TEST_KEY"):
        ProfileJudge(str(path))
    with pytest.raises(UsageError):
        ProfileJudge("no-such-profile")
