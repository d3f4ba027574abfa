"""embodied_spatial: Embodied-R1's stage-1 QA rows, in the released record format, offline."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from r1data import open_corpus, rewards


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> list[dict]:  # type: ignore[no-untyped-def]
    from r1data.cli import main

    out = tmp_path_factory.mktemp("es") / "embodied_spatial"
    assert main(["build", "embodied_spatial", "--size", "32", "-o", str(out), "--no-progress"]) == 0
    return open_corpus(out).table().to_pylist()


def test_rows_follow_the_released_record_format(rows: list[dict]) -> None:
    assert len(rows) == 32
    for r in rows:
        assert r["problem"].startswith("<image>") and "(A) " in r["problem"] and "<answer>" in r["problem"]
        assert r["data_type"] in ("spatial_qa", "general_qa")
        assert r["answer"] in {f"<type>{r['data_type']}</type>({x})" for x in "ABCD"[: len(r["options"])]}
        assert isinstance(r["images"], list) and len(r["images"]) == 1 and r["images"][0]["bytes"][:4] == b"\x89PNG"
    families = Counter(r["family"] for r in rows)
    assert families["relation"] + families["comparison"] > families["counting"] + families["attribute"]


def test_solutions_earn_the_full_reward_and_a_wrong_letter_does_not(rows: list[dict]) -> None:
    total = rewards.load("embodied.total")
    answers = [r["answer"] for r in rows]
    assert total(completions=[r["solution"] for r in rows], answer=answers) == [pytest.approx(1.0)] * len(rows)
    wrong = [re.sub(r"<answer>\((\w)\)", lambda m: "<answer>(%s)" % ("B" if m.group(1) == "A" else "A"),
                    r["solution"]) for r in rows]
    assert all(v == pytest.approx(0.1) for v in total(completions=wrong, answer=answers))


def test_the_verifier_rederives_the_answer_from_the_stored_objects(rows: list[dict]) -> None:
    from r1data.corpora.embodied_points.spatial_qa import answer_matches_program

    for r in rows:
        assert answer_matches_program(r) is True
    r = dict(next(x for x in rows if x["family"] == "relation"))
    letter = r["answer"][-2]
    r["answer"] = r["answer"].replace(f"({letter})", "(B)" if letter == "A" else "(A)")
    ok, why = answer_matches_program(r)
    assert not ok and "is not the option" in why
    program = json.loads(next(x for x in rows if x["family"] == "counting")["program"])
    assert program["kind"] == "count"


def test_embodied_points_mix_follows_the_paper() -> None:
    from r1data.corpora.embodied_points.procedural import _draw_mix

    ratios = {"REG": 0.274, "RRG": 0.363, "OFG": 0.199, "VTG": 0.163}
    rng = np.random.default_rng(0)
    total = Counter()
    for _ in range(2000):
        total.update(_draw_mix(ratios, 4, rng))
    n = sum(total.values())
    assert {k: round(v / n, 2) for k, v in total.items()} == pytest.approx(ratios, abs=0.015)


def test_shipped_spec_uses_the_paper_mix() -> None:
    import yaml

    spec = yaml.safe_load((Path(__file__).resolve().parents[1] / "pipelines/embodied_points.yaml").read_text())
    step = next(s for s in spec["steps"] if s["step"] == "point_tasks")
    assert step["ratios"] == {"REG": 0.274, "RRG": 0.363, "OFG": 0.199, "VTG": 0.163}
