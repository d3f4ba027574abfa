"""3D-R1 extras: the consistency check through an annotator profile (stand-in OpenAI server),
and the semantic reward's encoders (CLIP ViT-B/32 text features when local, MiniLM otherwise)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from r1data import open_corpus

REPO = Path(__file__).resolve().parents[1]


def test_similarity_is_3d_r1s_normalised_levenshtein() -> None:
    from r1data.corpora.scene30k.verifiers import consistency, similarity

    assert similarity("chair", "chair") == 1.0
    assert similarity(" chair ", "chairs") == pytest.approx(1 - 1 / 6)      # stripped, one insertion
    assert similarity("Chair", "chair") == pytest.approx(0.8)               # case-sensitive
    assert similarity("yes", "no") == 0.0
    cot = "<think>It is by the window.</think><answer>brown chair</answer>"
    assert consistency({"cot": cot, "consistency_answer": "brown chair"})[0] is True
    ok, why = consistency({"cot": cot, "consistency_answer": "table"})
    assert not ok and why.startswith("low_similarity")
    assert consistency({"cot": cot})[0] is False


def test_consistency_check_through_a_profile_against_a_stand_in_server(tmp_path: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests.servers import OpenAIChatServer

    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    spec = yaml.safe_load((REPO / "pipelines/scene30k.yaml").read_text())
    spec["schema"] = str(REPO / "schemas/scene30k.yaml")
    at = next(i for i, s in enumerate(spec["steps"]) if s["step"] == "verify") + 1
    with OpenAIChatServer(respond=lambda prompt, n_images: "yes") as server:
        profile = tmp_path / "checker.yaml"
        profile.write_text(f"provider: openai\nmodel: m\nbase_url: {server.url}\n")
        spec["steps"][at:at] = [
            {"step": "annotate", "profile": str(profile), "template": "scene30k_consistency.jinja",
             "output": "consistency_answer"},
            {"step": "verify", "verifiers": [{"verifier": "scene30k_consistency", "threshold": 0.8}]},
        ]
        path = tmp_path / "scene30k_checked.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        r = cli("build", path, "--size", "12", "-o", tmp_path / "out", "--no-progress")
        assert r.exit_code == 0, r.stderr
        calls = server.calls
        assert calls > 0
        assert "Answer the question concisely using ONLY the provided reasoning" in server.seen[0].prompt
        assert server.seen[0].image_sizes == []            # the reasoning alone, no views
    corpus = open_corpus(tmp_path / "out")
    kept = corpus.table().to_pylist()
    assert kept and all(row["cot"].endswith("<answer>yes</answer>") for row in kept)
    details = [d for s, d in zip(corpus.rejects().column("step").to_pylist(),
                                 corpus.rejects().column("detail").to_pylist()) if "low_similarity" in (d or "")]
    assert details, "rows whose answer is not 'yes' are rejected by the consistency check"
