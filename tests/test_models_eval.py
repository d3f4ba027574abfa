"""`r1data eval --model`: an API model (the real openai client against the stand-in server on
127.0.0.1) or a tiny local checkpoint generates the completions; the report equals the one of the
same completions given as --predictions. Bad --model values fail in one line, writing nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

import r1data
from r1data.annotators.cache import request_key
from r1data.annotators.request import AnnotationRequest, Message
from tests.servers import OpenAIChatServer

REPO = Path(__file__).resolve().parents[1]
KEY = "sk-r1data-model-test-5b1e-SECRET"


@pytest.fixture(scope="module")
def vqa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from r1data.cli import main

    out = tmp_path_factory.mktemp("models") / "vqa"
    assert main(["build", "vqa_verify", "--size", "16", "-o", str(out), "--no-progress"]) == 0
    return out


@pytest.fixture(scope="module")
def answers(vqa: Path) -> dict[str, list[str]]:
    rows = r1data.open_corpus(vqa).table(columns=["id", "possible_answers"]).to_pylist()
    return {r["id"]: r["possible_answers"] for r in rows}


def id_recipe(tmp_path: Path) -> Path:
    """The shipped vqa_verify recipe with the row id in the prompt (so the stand-in knows the row)."""
    recipe = yaml.safe_load((REPO / "train" / "vqa_verify.yaml").read_text())
    recipe["data"]["prompt"] = "Row {{ id }}: {{ question }}"
    path = tmp_path / "vqa_ids.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def row_id(prompt: str) -> str:
    return re.search(r"Row (\S+):", prompt).group(1)  # type: ignore[union-attr]


def profile_file(tmp_path: Path, server, **extra) -> Path:  # type: ignore[no-untyped-def]
    settings = {"provider": "openai", "model": "stand-in", "base_url": server.url, "api_key_env": "R1DATA_MODEL_KEY",
                "max_concurrency": 8, "max_retries": 2, "backoff_initial_s": 0.01, "backoff_max_s": 0.05,
                "timeout_s": 5, "price_input_per_million": 1.0, "price_output_per_million": 4.0, **extra}
    path = tmp_path / "stand-in.yaml"
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in settings.items()))
    return path


@pytest.fixture
def env(tmp_path: Path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("R1DATA_MODEL_KEY", KEY)
    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_eval_with_model_equals_eval_of_its_predictions_and_a_rerun_costs_nothing(vqa, answers, env, cli) -> None:  # type: ignore[no-untyped-def]
    ids = sorted(answers)
    right = set(ids[::2])                   # the stand-in answers every other row right

    def respond(prompt: str, n_images: int) -> str:
        rid = row_id(prompt)
        answer = answers[rid][0] if rid in right else "purple elephant"
        return f"<caption>a scene</caption><bbox>[[1,2,30,40]]</bbox><answer>{answer}</answer>"

    with OpenAIChatServer(respond=respond) as server:
        profile, recipe, preds = profile_file(env, server), id_recipe(env), env / "preds.jsonl"
        args = ["eval", "vqa_verify", "--data", vqa, "--model", profile, "--recipe", recipe, "--json", "--no-progress"]
        made = cli(*args, "--predictions-out", preds)
        assert made.exit_code == 0, made.stderr
        generated = json.loads(made.stdout)
        assert server.calls == 16 and all(s.image_sizes for s in server.seen)     # each row once, with its image
        # the prompt is the recipe's: its system prompt, then the user turn
        assert server.seen[0].body["messages"][0]["role"] == "system"
        assert "<caption>" in server.seen[0].body["messages"][0]["content"]
        assert server.seen[0].body["temperature"] == 0.0
        scored = cli("eval", "vqa_verify", "--data", vqa, "-p", preds, "--json")
        assert scored.exit_code == 0, scored.stderr
        by_file = json.loads(scored.stdout)
        model = generated.pop("model")
        assert generated == by_file                                # the same report, to the last figure
        assert by_file["metrics"]["accuracy"] == pytest.approx(len(right) / 16)
        assert model["kind"] == "api" and model["generated"] == 16 and model["usage"]["api_calls"] == 16
        assert model["usage"]["cost_usd"] > 0
        # a rerun asks nothing: every answer comes from the cache
        again = cli(*args, "--limit", "4")
        assert again.exit_code == 0, again.stderr
        r = json.loads(again.stdout)
        assert server.calls == 16 and r["rows"] == 4 and r["model"]["usage"]["cache_hits"] == 4
        assert KEY not in made.stdout + made.stderr + preds.read_text()
    text = cli("eval", "vqa_verify", "--data", vqa, "-p", preds).stdout
    assert "accuracy" in text


def test_a_sample_is_its_own_cache_entry_and_old_keys_stay_valid() -> None:
    request = AnnotationRequest((Message("user", ("Is there a chair?",)),), 1.0, 64)
    key = request_key("openai", "m", request)
    assert request_key("openai", "m", AnnotationRequest(request.messages, 1.0, 64, sample=0)) == key
    import hashlib

    # the key of every answer cached before samples existed
    identity = {"provider": "openai", "model": "m", "temperature": 1.0, "max_output_tokens": 64,
                "response_schema": None, "messages": [{"role": "user", "parts": ["Is there a chair?"]}]}
    legacy = hashlib.sha256(json.dumps(identity, sort_keys=True, ensure_ascii=False,
                                       separators=(",", ":")).encode()).hexdigest()
    assert key == legacy
    samples = {request_key("openai", "m", AnnotationRequest(request.messages, 1.0, 64, sample=k)) for k in range(8)}
    assert len(samples) == 8 and key in samples
    assert request.followed_by(Message("user", ("again",))).sample == 0
    assert AnnotationRequest(request.messages, sample=3).followed_by(Message("user", ("again",))).sample == 3


def test_bad_model_arguments_are_one_line_and_write_nothing(vqa, env, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    preds = env / "preds.jsonl"
    not_a_model = env / "runs" / "x"
    (not_a_model / "grpo").mkdir(parents=True)
    (not_a_model / "grpo" / "config.json").write_text("{}")          # a config without weights
    r = cli("eval", "vqa_verify", "--data", vqa, "--model", not_a_model, "--predictions-out", preds)
    assert r.exit_code == 2 and "not a model checkpoint" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli("eval", "vqa_verify", "--data", vqa, "--model", env / "nowhere" / "final", "--predictions-out", preds)
    assert r.exit_code == 2 and "no such checkpoint folder" in r.stderr
    with OpenAIChatServer() as server:
        profile = profile_file(env, server)
        monkeypatch.delenv("R1DATA_MODEL_KEY")
        r = cli("eval", "vqa_verify", "--data", vqa, "--model", profile, "--predictions-out", preds)
        assert r.exit_code == 2 and "R1DATA_MODEL_KEY" in r.stderr and server.calls == 0
    r = cli("eval", "vqa_verify", "--data", vqa, "--model", "programmatic", "--predictions-out", preds)
    assert r.exit_code == 2 and "programmatic" in r.stderr
    r = cli("eval", "vqa_verify", "--data", vqa, "--model", "no-such-profile")
    assert r.exit_code == 2 and "neither a checkpoint folder nor" in r.stderr
    r = cli("eval", "vqa_verify", "--data", vqa)
    assert r.exit_code == 2 and "either --predictions" in r.stderr
    assert not preds.exists()


# -- a local checkpoint (tiny random Qwen2 / Qwen2.5-VL, made offline) ------------------------------

@pytest.fixture(scope="module")
def tiny(tmp_path_factory, vqa: Path) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    from r1data.train.tiny import make_tiny_model

    t = r1data.open_corpus(vqa).table(columns=["question", "solution"])
    texts = t.column("question").to_pylist() + t.column("solution").to_pylist()
    root = tmp_path_factory.mktemp("tiny")
    text = make_tiny_model(root / "text", "text", texts)
    make_tiny_model(root / "vl" / "sft" / "final", "vl", texts)           # laid out as `r1data train` writes it
    return {"text": text, "vl_run": root / "vl"}


@pytest.mark.slow
def test_a_tiny_local_checkpoint_generates_on_cpu_through_eval(vqa, tiny, env, cli) -> None:  # type: ignore[no-untyped-def]
    preds = env / "local.jsonl"
    r = cli("eval", "vqa_verify", "--data", vqa, "--model", tiny["vl_run"], "--max-new-tokens", "6", "--limit", "5",
            "--batch-size", "2", "--predictions-out", preds, "--json", "--no-progress")
    assert r.exit_code == 0, r.stderr
    result = json.loads(r.stdout)
    m = result["model"]
    assert m["kind"] == "local" and m["checkpoint"].endswith("sft/final") and m["generated"] == 5
    assert result["rows"] == 5 and result["scored"] == 5 and result["missing"] == 0
    lines = [json.loads(x) for x in preds.read_text().splitlines()]
    assert [x["id"] for x in lines] == r1data.open_corpus(vqa).table(columns=["id"]).column("id").to_pylist()[:5]
    # greedy decoding is deterministic: the same command gives the same completions
    again = env / "again.jsonl"
    assert cli("eval", "vqa_verify", "--data", vqa, "--model", tiny["vl_run"], "--max-new-tokens", "6", "--limit", "5",
               "--batch-size", "5", "--predictions-out", again, "--no-progress").exit_code == 0
    assert again.read_text() == preds.read_text()


@pytest.mark.slow
def test_local_generation_sees_the_recipe_prompt_and_the_images(vqa, tiny) -> None:  # type: ignore[no-untyped-def]
    from r1data.models import PromptBuilder, resolve_model
    from r1data.models.local import LocalGenerator

    built = r1data.open_corpus(vqa)
    ref = resolve_model(str(tiny["vl_run"]))
    builder = PromptBuilder("vqa_verify", built.manifest["schema"], built.path)
    rows = built.table("train", columns=builder.columns).slice(0, 3).to_pylist()
    prompts = [builder.prompt(row) for row in rows]
    gen = LocalGenerator(ref, temperature=1.0, max_new_tokens=4, batch_size=2)
    text = gen.chat_text(prompts[0])
    assert "<|image_pad|>" in text and rows[0]["question"] in text and "<caption>" in text   # image, question, system
    first = gen.generate(prompts, samples=3, seed=7)
    assert [len(s) for s in first] == [3, 3, 3]
    assert gen.generate(prompts, samples=3, seed=7) == first          # seeded: a resumed rollout repeats itself
    text_only = LocalGenerator(resolve_model(str(tiny["text"])), temperature=0, max_new_tokens=4)
    assert not text_only.vision and "<|image_pad|>" not in text_only.chat_text(
        PromptBuilder("vqa_verify", built.manifest["schema"], built.path, vision=False).prompt(rows[0]))


def test_a_gemini_profile_answers_through_the_same_path(vqa, answers, env, cli) -> None:  # type: ignore[no-untyped-def]
    from tests.servers import GeminiServer

    def respond(prompt: str, n_images: int) -> str:
        return f"<caption>c</caption><bbox>[[1,2,3,4]]</bbox><answer>{answers[row_id(prompt)][0]}</answer>"

    with GeminiServer(respond=respond) as server:
        profile = profile_file(env, server, provider="gemini")
        r = cli("eval", "vqa_verify", "--data", vqa, "--model", profile, "--recipe", id_recipe(env), "--limit", "6",
                "--json", "--no-progress")
        assert r.exit_code == 0, r.stderr
        result = json.loads(r.stdout)
        assert result["metrics"]["accuracy"] == 1.0 and result["model"]["provider"] == "gemini"
        assert server.calls == 6 and all(s.image_sizes for s in server.seen)
        system = server.seen[0].body.get("systemInstruction") or server.seen[0].body.get("system_instruction")
        assert "<caption>" in json.dumps(system)                  # the recipe's system prompt
