"""`r1data rollout` and the `rollout` step: a stand-in server (the real openai client, 127.0.0.1)
whose answers are known gives known pass rates; the new build keeps rows by pass rate, rejects
the others with their rate, records the model; a rerun asks nothing; a killed rollout resumes
without asking twice; bad arguments are one line, exit 2, nothing written."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import r1data
from tests.servers import OpenAIChatServer
from tests.test_models_eval import id_recipe, profile_file, row_id

REPO = Path(__file__).resolve().parents[1]
KEY = "sk-r1data-rollout-test-8d2f-SECRET"
N = 4


@pytest.fixture(scope="module")
def vqa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from r1data.cli import main

    out = tmp_path_factory.mktemp("rollout") / "vqa"
    assert main(["build", "vqa_verify", "--size", "20", "-o", str(out), "--no-progress"]) == 0
    return out


@pytest.fixture(scope="module")
def answers(vqa: Path) -> dict[str, list[str]]:
    rows = r1data.open_corpus(vqa).table(columns=["id", "possible_answers"]).to_pylist()
    return {r["id"]: r["possible_answers"] for r in rows}


@pytest.fixture
def env(tmp_path: Path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("R1DATA_MODEL_KEY", KEY)
    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def right_count(ids: list[str]) -> dict[str, int]:
    """How many of the N samples of each row the stand-in answers right: 0, 1, ..., N in turn."""
    return {rid: i % (N + 1) for i, rid in enumerate(sorted(ids))}


def counting_model(answers: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    """The k-th answer about a row is right while k < its right count: whatever order the N
    concurrent samples arrive in, exactly that many are right."""
    quota = right_count(list(answers))
    asked: dict[str, int] = {}

    def respond(prompt: str, n_images: int) -> str:
        rid = row_id(prompt)
        k = asked[rid] = asked.get(rid, 0) + 1
        answer = answers[rid][0] if k <= quota[rid] else "purple elephant"
        return f"<caption>a scene</caption><bbox>[[1,2,30,40]]</bbox><answer>{answer}</answer>"

    return respond


def test_rollout_pass_rates_are_right_and_rows_outside_the_range_are_rejected_with_it(vqa, answers, env, cli) -> None:  # type: ignore[no-untyped-def]
    quota = right_count(list(answers))
    with OpenAIChatServer(respond=counting_model(answers)) as server:
        profile, recipe, out = profile_file(env, server), id_recipe(env), env / "hard"
        args = ["rollout", vqa, "--model", profile, "--recipe", recipe, "--samples", N, "--keep-pass-rate", "0.25:0.75",
                "-o", out, "--no-progress"]
        r = cli(*args)
        assert r.exit_code == 0, r.stderr
        assert server.calls == 20 * N
        asked = [row_id(s.prompt) for s in server.seen]
        assert all(asked.count(rid) == N for rid in answers)           # N samples a row, none twice
        assert all(s.body["temperature"] == 1.0 for s in server.seen)  # the recipe's GRPO temperature

        corpus = r1data.open_corpus(out)
        rows = corpus.table(columns=["id", "pass_rate", "rollout_rewards", "rollout_completions"]).to_pylist()
        kept = {rid for rid, c in quota.items() if 0.25 <= c / N <= 0.75}
        assert {row["id"] for row in rows} == kept
        for row in rows:
            assert row["pass_rate"] == pytest.approx(quota[row["id"]] / N)
            assert sorted(row["rollout_rewards"]) == [0.0] * (N - quota[row["id"]]) + [1.0] * quota[row["id"]]
            assert len(row["rollout_completions"]) == N and all("<answer>" in c for c in row["rollout_completions"])
        # the splits of the source build are kept
        assert set(corpus.splits) <= set(r1data.open_corpus(vqa).splits)
        rejects = corpus.rejects().to_pylist()
        assert {(x["id"], x["step"], x["reason"]) for x in rejects} == \
            {(rid, "rollout", "pass_rate") for rid in answers if rid not in kept}
        for x in rejects:
            rate = quota[x["id"]] / N
            assert json.loads(x["record"])["pass_rate"] == rate and f"pass rate {rate:g}" in x["detail"]
        m = corpus.manifest
        step = m["steps"][0]
        assert step["step"] == "rollout" and step["usage"]["api_calls"] == 20 * N
        assert step["info"]["model"]["model_name"] == "stand-in" and step["info"]["model"]["provider"] == "openai"
        params = m["spec"]["steps"][0]["params"]
        assert (params["samples"], params["accuracy"], params["temperature"]) == (N, "satori.answer", 1.0)
        assert "pass_rate" in m["features"] and m["corpus"] == "vqa_verify"
        # the histogram: 4 rows at each of 0, 0.25, 0.5, 0.75, 1
        assert "pass rates (4 samples a row" in r.stdout
        assert sum(int(m["counters"][f"pass_rate_bin_{k:02d}:rollout"]) for k in (0, 10)) == 8

        # a rerun asks nothing: the same command finds the build done; a fresh one (--overwrite)
        # reads every sample from the cache and gives the same rows
        assert cli(*args).exit_code == 0 and server.calls == 20 * N
        again = cli(*args, "--overwrite")
        assert again.exit_code == 0, again.stderr
        assert server.calls == 20 * N
        assert [(x["id"], x["pass_rate"]) for x in r1data.open_corpus(out).table(columns=["id", "pass_rate"]).to_pylist()] \
            == [(x["id"], x["pass_rate"]) for x in rows]
    # what the rollout made trains and evaluates like its source corpus
    assert cli("eval", "vqa_verify", "--data", out, "-p", _gold(out), "--json").exit_code == 0


def _gold(out: Path) -> Path:
    rows = r1data.open_corpus(out).table(columns=["id", "solution"]).to_pylist()
    path = out.parent / "gold.jsonl"
    path.write_text("".join(json.dumps({"id": r["id"], "completion": r["solution"]}) + "\n" for r in rows))
    return path


def test_the_rollout_step_ends_a_spec_that_reads_a_built_corpus(vqa, answers, env, cli) -> None:  # type: ignore[no-untyped-def]
    with OpenAIChatServer(respond=counting_model(answers)) as server:
        profile, recipe = profile_file(env, server), id_recipe(env)
        (env / "pipelines").mkdir()
        (env / "pipelines" / "vqa_easy.yaml").write_text(f"""
name: vqa_easy
schema: vqa_verify
size: null
source: built
sources:
  built: {{reader: built_corpus, dir: {vqa}, split: train, limit: 10}}
steps:
  - step: rollout
    model: {profile}
    samples: {N}
    corpus: vqa_verify
    recipe: {recipe}
    keep_pass_rate: [0.75, 1]
""")
        assert cli("validate", "vqa_easy", "--workspace", env).exit_code == 0
        r = cli("build", "vqa_easy", "--workspace", env, "-o", env / "easy", "--no-progress")
        assert r.exit_code == 0, r.stderr
        assert server.calls == 10 * N
    train = r1data.open_corpus(vqa).table("train", columns=["id"]).column("id").to_pylist()[:10]
    quota = right_count(list(answers))
    rows = r1data.open_corpus(env / "easy").table(columns=["id", "pass_rate"]).to_pylist()
    assert [x["id"] for x in rows] == [rid for rid in train if quota[rid] >= 3]
    assert all(x["pass_rate"] >= 0.75 for x in rows)


def test_bad_rollout_arguments_are_one_line_exit_2_and_write_nothing(vqa, env, cli, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    from r1data.cli import main

    with OpenAIChatServer() as server:
        profile = profile_file(env, server)
        out = env / "new"
        for bad, says in (("0.9:0.1", "must not exceed"), ("0.2:1.5", "in [0, 1]"), ("half", "expected LO:HI")):
            r = cli("rollout", vqa, "--model", profile, "--keep-pass-rate", bad, "-o", out)
            assert r.exit_code == 2 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        r = cli("rollout", vqa, "--model", env, "-o", out)          # a folder that holds no checkpoint
        assert r.exit_code == 2 and "not a model checkpoint" in r.stderr
        r = cli("rollout", vqa, "--model", profile, "-o", vqa)
        assert r.exit_code == 2 and "another folder" in r.stderr
        r = cli("rollout", vqa, "--model", profile, "--accuracy", "satori.nope", "-o", out)
        assert r.exit_code == 2 and "satori.answer" in r.stderr
        # scene30k has no reward that judges every answer: the user must name one
        s30 = tmp_path_factory.mktemp("s30") / "s30"
        assert main(["build", "scene30k", "--size", "6", "-o", str(s30), "--no-progress"]) == 0
        r = cli("rollout", s30, "--model", profile, "-o", out)
        assert r.exit_code == 2 and "no reward for accuracy" in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert server.calls == 0
    assert not out.exists()


@pytest.mark.slow
def test_a_killed_rollout_resumes_without_asking_anything_twice(tmp_path_factory, env) -> None:  # type: ignore[no-untyped-def]
    from r1data.cli import main

    vqa = tmp_path_factory.mktemp("kill") / "vqa"
    assert main(["build", "vqa_verify", "--size", "96", "-o", str(vqa), "--no-progress"]) == 0
    answers = {r["id"]: r["possible_answers"] for r in
               r1data.open_corpus(vqa).table(columns=["id", "possible_answers"]).to_pylist()}

    def respond(prompt: str, n_images: int) -> str:          # right for every third row, whatever the call
        rid = row_id(prompt)
        answer = answers[rid][0] if sorted(answers).index(rid) % 3 == 0 else "purple elephant"
        return f"<caption>a</caption><bbox>[[1,2,3,4]]</bbox><answer>{answer}</answer>"

    with OpenAIChatServer(respond=respond, latency_s=0.03) as server:
        profile, recipe, out = profile_file(env, server, max_concurrency=4), id_recipe(env), env / "killed"
        cmd = [sys.executable, "-m", "r1data", "rollout", str(vqa), "--model", str(profile), "--recipe", str(recipe),
               "--samples", "2", "-o", str(out), "--no-progress"]
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while server.answered < 110 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert proc.poll() is None, "the rollout ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not (out / "manifest.json").exists()
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        # only the calls in flight at the kill (at most max_concurrency) were asked again
        assert server.calls <= 96 * 2 + 4
        assert KEY not in done.stdout + done.stderr
    corpus = r1data.open_corpus(out)
    rows = corpus.table(columns=["id", "pass_rate"]).to_pylist()
    assert sorted(x["id"] for x in rows) == sorted(answers) and corpus.manifest["rejects"]["rows"] == 0
    for x in rows:
        assert x["pass_rate"] == (1.0 if sorted(answers).index(x["id"]) % 3 == 0 else 0.0)


def test_max_cost_stops_a_rollout_and_a_rerun_pays_nothing_twice(vqa, answers, env, cli) -> None:  # type: ignore[no-untyped-def]
    with OpenAIChatServer(respond=counting_model(answers)) as server:
        profile = profile_file(env, server, price_output_per_million=1000.0)
        args = ["rollout", vqa, "--model", profile, "--recipe", id_recipe(env), "--samples", 2, "-o", env / "paid",
                "--no-progress"]
        r = cli(*args, "--max-cost", "0.0001")
        assert r.exit_code == 3 and "--max-cost" in r.stderr, r.stderr
        paid = server.calls
        assert paid == 20 * 2 and not (env / "paid" / "manifest.json").exists()
        r = cli(*args, "--max-cost", "100")
        assert r.exit_code == 0, r.stderr
        assert server.calls == paid and r1data.open_corpus(env / "paid").manifest["rows"] == 20


@pytest.mark.slow
def test_a_video_corpus_rolls_out_with_the_recipes_frames(tmp_path_factory, env, cli) -> None:  # type: ignore[no-untyped-def]
    from r1data.cli import main

    lv = tmp_path_factory.mktemp("lv") / "longvideo"
    assert main(["build", "longvideo", "--size", "3", "-o", str(lv), "--no-progress"]) == 0
    rows = r1data.open_corpus(lv).table(columns=["problem", "answer"]).to_pylist()

    def respond(prompt: str, n_images: int) -> str:       # the right letter, read off the question
        return next((f"<think>seen</think> {r['answer']}" for r in rows if r["problem"] in prompt), "<answer>Z</answer>")

    with OpenAIChatServer(respond=respond) as server:
        r = cli("rollout", lv, "--model", profile_file(env, server), "--samples", 2, "-o", env / "lv-roll", "--no-progress")
        assert r.exit_code == 0, r.stderr
        assert server.calls == 3 * 2
        assert all(len(s.image_sizes) == 32 for s in server.seen)     # the recipe's video_frames, as JPEG
    out = r1data.open_corpus(env / "lv-roll").table(columns=["pass_rate", "videos"]).to_pylist()
    assert [x["pass_rate"] for x in out] == [1.0, 1.0, 1.0]
    assert all(Path(x["videos"]).is_absolute() and Path(x["videos"]).exists() for x in out)   # the source's videos
