"""`r1data eval` end to end: build a tiny scene30k, score predictions as a user would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import r1data
from r1data.rewards.evaluation import evaluation_for

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from r1data.cli import main

    out = tmp_path_factory.mktemp("eval") / "scene30k"
    assert main(["build", "scene30k", "--size", "24", "-o", str(out), "--no-progress"]) == 0
    return out


def write_predictions(built: Path, path: Path) -> dict:
    """Gold chains for most rows, a wrong answer (conversational) for every fourth, the last two
    rows left out, one id that is not in the corpus and one id given twice."""
    rows = r1data.open_corpus(built).table(columns=["id", "cot", "target_box"]).to_pylist()
    lines, wrong, gold = [], [], []
    for i, row in enumerate(rows[:-2]):
        if i % 4 == 0:
            lines.append({"id": row["id"], "completion": [{"role": "assistant", "content": "<answer>wrong</answer>"}]})
            wrong.append(row)
        else:
            lines.append({"id": row["id"], "completion": row["cot"]})
            gold.append(row)
    lines.append({"id": "ghost-row", "completion": "<answer>x</answer>"})
    lines.append({"id": rows[1]["id"], "completion": "a second answer for the same row is ignored"})
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return {"rows": rows, "wrong": wrong, "gold": gold}


def test_eval_counts_missing_extra_and_duplicate_ids_and_scores_rewards(built: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    preds = tmp_path / "preds.jsonl"
    made = write_predictions(built, preds)
    result = cli("eval", "scene30k", "--data", built, "-p", preds, "--json",
                 "--reward", "scene30k.format", "--reward", "scene30k.perception")
    assert result.exit_code == 0, result.stderr
    r = json.loads(result.stdout)
    n_wrong, n_gold = len(made["wrong"]), len(made["gold"])
    assert r["rows"] == len(made["rows"]) and r["scored"] == n_wrong + n_gold
    assert (r["missing"], r["extra"], r["duplicates"]) == (2, 1, 1)
    assert r["missing_ids"] == [row["id"] for row in made["rows"][-2:]] and r["extra_ids"] == ["ghost-row"]
    # graded format: a gold chain scores 1, a bare <answer> 0.25
    assert r["rewards"]["scene30k.format"]["mean"] == pytest.approx((n_wrong * 0.25 + n_gold) / (n_wrong + n_gold))
    referring = [row for row in made["wrong"] + made["gold"] if row["target_box"] is not None]
    per = r["rewards"]["scene30k.perception"]
    assert per["rows"] == len(referring) and per["not_applicable"] == r["scored"] - len(referring)
    hits = sum(1 for row in made["gold"] if row["target_box"] is not None)
    assert per["mean"] == pytest.approx(hits / len(referring), abs=0.02)   # answers rounded to 2 decimals
    assert r["metrics"]["exact_match"] == pytest.approx(
        sum(1 for row in made["gold"] if row["target_box"] is None)
        / sum(1 for row in made["wrong"] + made["gold"] if row["target_box"] is None))


@pytest.mark.slow
def test_eval_takes_the_rewards_and_weights_from_the_spec(built: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    preds = tmp_path / "preds.jsonl"
    write_predictions(built, preds)
    result = cli("eval", "scene30k", "--data", built, "-p", preds)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "rewards from scene30k.yaml rewards:" in out
    for name, weight in (("scene30k.format", 0.3), ("scene30k.perception", 0.4), ("scene30k.semantic", 0.3)):
        assert name in out and f"weight {weight:g}" in out
    assert "weighted sum" in out and "exact_match" in out and "acc@0.25" in out
    assert "missing 2" in out and "extra 1" in out and "ghost-row" in out
    assert "Loading weights" not in result.stderr            # the model loads quietly
    assert "scene30k.semantic: scored with" in out           # which encoder (CLIP or MiniLM) scored it
    as_json = json.loads(cli("eval", "scene30k", "--data", built, "-p", preds, "--json").stdout)
    assert as_json["backends"]["scene30k.semantic"]
    sem = as_json["rewards"]["scene30k.semantic"]["mean"]
    assert 0.5 < sem < 1.0                                    # gold answers ~1, "wrong" much lower
    fmt = as_json["rewards"]["scene30k.format"]["mean"]
    per = as_json["rewards"]["scene30k.perception"]["mean"]
    # every row has format and semantic; perception only referring rows (weighted like TRL: nansum)
    assert as_json["weighted"]["rows"] == as_json["scored"]
    assert as_json["weighted"]["mean"] > 0.3 * fmt + 0.3 * sem - 1e-9
    assert per is not None


def _workspace_with_rewards(tmp_path: Path, rewards_yaml: str) -> Path:
    ws = tmp_path / "ws"
    (ws / "pipelines").mkdir(parents=True)
    spec = (REPO / "pipelines" / "scene30k.yaml").read_text()
    spec = spec[: spec.index("\nrewards:")] + "\nrewards:\n" + rewards_yaml
    (ws / "pipelines" / "scene30k.yaml").write_text(spec)
    return ws


def test_spec_reward_params_are_bound_and_bad_entries_name_the_line(built: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    preds = tmp_path / "preds.jsonl"
    write_predictions(built, preds)
    ws = _workspace_with_rewards(tmp_path, "  - {reward: format.think_answer, weight: 2}\n")
    r = json.loads(cli("eval", "scene30k", "--data", built, "-p", preds, "--workspace", ws, "--json").stdout)
    assert list(r["rewards"]) == ["format.think_answer"] and r["rewards"]["format.think_answer"]["weight"] == 2
    assert r["weighted"]["mean"] == pytest.approx(2 * r["rewards"]["format.think_answer"]["mean"])

    ws = _workspace_with_rewards(tmp_path / "b", "  - {reward: scene30k.perception}\n"
                                                 "  - {reward: xiangqi.good, params: {margn: 5}}\n")
    bad = cli("eval", "scene30k", "--data", built, "-p", preds, "--workspace", ws)
    assert bad.exit_code == 2
    assert "scene30k.yaml:" in bad.stderr and "rewards[1]" in bad.stderr and "margn" in bad.stderr
    ws = _workspace_with_rewards(tmp_path / "c", "  - {reward: scene30k.perceptoin}\n")
    bad = cli("eval", "scene30k", "--data", built, "-p", preds, "--workspace", ws)
    assert bad.exit_code == 2 and "did you mean 'scene30k.perception'" in bad.stderr


def test_bad_prediction_files_are_one_line_errors(built: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    preds = tmp_path / "bad.jsonl"
    preds.write_text('{"id": "a", "completion": "x"}\nnot json\n')
    r = cli("eval", "scene30k", "--data", built, "-p", preds, "--reward", "scene30k.format")
    assert r.exit_code == 2 and f"{preds}:2: not JSON" in r.stderr
    preds.write_text('{"id": "nobody", "completion": "x"}\n')
    r = cli("eval", "scene30k", "--data", built, "-p", preds, "--reward", "scene30k.format")
    assert r.exit_code == 2 and "no prediction id matches" in r.stderr
    preds.write_text("")
    r = cli("eval", "scene30k", "--data", built, "-p", preds, "--reward", "scene30k.format")
    assert r.exit_code == 2 and "holds no prediction" in r.stderr
    preds.write_text('{"id": "nobody", "completion": "x"}\n')
    r = cli("eval", "scene30k", "--data", tmp_path, "-p", preds)
    assert r.exit_code == 2 and "not an r1data build" in r.stderr


def test_corpora_without_a_spec_fall_back_to_their_reward_family() -> None:
    ev = evaluation_for("star")                    # no pipelines/star.yaml: STAR-R1's rewards by family
    assert [r.name for r in ev.rewards] == ["star.accuracy", "star.exact", "star.format", "star.total"]
    assert ev.origin == "every star.* reward" and ev.metrics is not None
    omni = evaluation_for("omni")                 # the omni spec's list (Omni-R1's System 2 reward among them)
    assert [r.name for r in omni.rewards] == ["omni.format", "omni.grounded_iou", "omni.vos"]
    spec = evaluation_for("vqa_verify")            # a spec with a rewards: section wins
    assert spec.origin == "vqa_verify.yaml rewards:" and spec.metrics is not None
    assert {r.name.split(".")[0] for r in spec.rewards} == {"satori"} and "possible_answers" in spec.columns()
    from r1data.errors import UsageError

    with pytest.raises(UsageError, match="no rewards for corpus 'mystery'"):
        evaluation_for("mystery")


def test_help_explains_where_rewards_come_from(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("eval", "--help")
    assert r.exit_code == 0 and "rewards:" in r.stdout and "missing" in r.stdout

