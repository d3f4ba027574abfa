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


@pytest.mark.slow   # a small scene30k build with an API annotate step
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


def make_tiny_clip(folder: Path) -> Path:
    """A random CLIP text tower in the Hugging Face format (what a copy of
    openai/clip-vit-base-patch32 looks like), with a byte-level CLIP tokenizer: nothing downloaded."""
    from tokenizers import pre_tokenizers
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPTokenizer

    chars = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab["<|startoftext|>"], vocab["<|endoftext|>"] = len(vocab), len(vocab) + 1
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[])
    config = CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                            num_attention_heads=2, max_position_embeddings=77, projection_dim=16,
                            bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
                            pad_token_id=vocab["<|endoftext|>"])
    CLIPTextModelWithProjection(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.slow   # loads transformers and the sentence encoder
def test_semantic_uses_clip_when_its_weights_are_local_and_says_so(tmp_path: Path, monkeypatch, cli) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("transformers")
    from r1data import rewards
    from r1data.rewards.embedding import resolve_encoder

    monkeypatch.delenv("R1DATA_CLIP_MODEL", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))     # no CLIP in this cache
    assert resolve_encoder().kind == "sentence-transformers"
    assert "MiniLM" in rewards.backends([rewards_spec("scene30k.semantic")])["scene30k.semantic"]

    clip = make_tiny_clip(tmp_path / "clip-vit-base-patch32")
    monkeypatch.setenv("R1DATA_CLIP_MODEL", str(clip))
    assert resolve_encoder() == resolve_encoder("clip") == resolve_encoder(f"clip:{clip}")
    assert rewards.backends([rewards_spec("scene30k.semantic")])["scene30k.semantic"].startswith("CLIP ViT-B/32")
    semantic = rewards.load("scene30k.semantic")
    long_answer = "<answer>" + "very " * 100 + "long</answer>"
    got = semantic(completions=["<think>t</think><answer>a red chair</answer>", "a red chair", long_answer],
                   answer=["a red chair"] * 3)
    assert got[0] == pytest.approx(1.0) and got[1] == pytest.approx(1.0)   # no tag: the whole text
    assert got[2] == 0.0                                   # over CLIP's 77 tokens: 0, as 3D-R1
    cut = rewards.load("scene30k.semantic", truncate=True)(completions=[long_answer], answer=["a red chair"])
    assert cut[0] != 0.0 and -1.0 <= cut[0] <= 1.0

    # the build manifest and the Hub card say which encoder would score it
    r = cli("build", "scene30k", "--size", "8", "-o", tmp_path / "out", "--no-progress")
    assert r.exit_code == 0, r.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["reward_backends"]["scene30k.semantic"].startswith("CLIP ViT-B/32")
    r = cli("push", tmp_path / "out", "--repo", "me/s30k", "--dry-run", tmp_path / "card")
    assert r.exit_code == 0, r.stderr
    assert "scored with CLIP ViT-B/32 text features" in (tmp_path / "card" / "README.md").read_text()


def make_tiny_clip_model(folder: Path) -> Path:
    """A random CLIP with both towers in the Hugging Face format (config, weights, tokenizer,
    preprocessor_config.json, as a copy of openai/clip-vit-base-patch32 has), 32 px images."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel

    make_tiny_clip(folder)                              # its tokenizer (and a text tower, replaced)
    text = json.loads((folder / "config.json").read_text())
    vision = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 2,
              "image_size": 32, "patch_size": 8, "projection_dim": 16}
    torch.manual_seed(0)
    CLIPModel(CLIPConfig(text_config={k: text[k] for k in ("vocab_size", "hidden_size", "intermediate_size",
                                                          "num_hidden_layers", "num_attention_heads",
                                                          "max_position_embeddings", "bos_token_id",
                                                          "eos_token_id", "pad_token_id")},
                         vision_config=vision, projection_dim=16)).save_pretrained(folder)
    CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


@pytest.mark.slow   # loads transformers and builds a CLIP
def test_clip_scored_view_selection_keeps_the_view_clip_prefers(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """select_views' CLIP option runs the same local CLIP as the semantic reward (transformers,
    no torchvision): when CLIP's score dominates, the view CLIP ranks first is kept, not the one
    the instance buffers favour."""
    pytest.importorskip("transformers")
    import numpy as np

    from r1data.corpora.scene30k import views as views_mod
    from r1data.corpora.scene30k.render import View, Views
    from r1data.render3d import png_bytes
    from r1data.steps.base import StepContext

    monkeypatch.setenv("R1DATA_CLIP_MODEL", str(make_tiny_clip_model(tmp_path / "clip")))
    monkeypatch.setattr(views_mod, "_SCORERS", {})
    rng = np.random.default_rng(0)
    images = [np.full((48, 48, 3), c, np.uint8) for c in ((200, 30, 30), (30, 200, 30), (30, 30, 200))]
    images.append(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8))
    pngs = [png_bytes(im) for im in images]
    question = "what colour is the chair?"
    scorer = views_mod.clip_scorer(True)
    assert scorer is not None
    clip = scorer.scores([View(p, None, []) for p in pngs], question)
    assert clip.shape == (4,) and np.isfinite(clip).all() and np.ptp(clip) > 0
    liked, disliked = int(np.argmax(clip)), int(np.argmin(clip))
    # the instance buffers favour the view CLIP likes least
    cands = [View(p, {"view": k}, [{"id": 0, "pixels": 100, "visible": 0.9 if k == disliked else 0.5, "box": None}])
             for k, p in enumerate(pngs)]

    def keep(**kw):  # type: ignore[no-untyped-def]
        ctx = StepContext(seed=1, corpus="scene30k", step="select_views")
        rows = [{"id": "r", "question": question, "object_ids": [0], "objects": [{}], "_views": Views(None, cands)}]
        out = list(views_mod.select_views(rows, ctx, views=1, **kw))
        assert "views_clip_skipped" not in ctx.stats.to_dict()["counters"]
        return out[0]["cameras"]

    assert keep() == [{"view": disliked}]
    weight = 1.0 / np.ptp(clip)                  # CLIP's spread now outweighs the buffers' 0.4 x 0.6
    assert keep(clip=True, weights={"clip": weight}) == [{"view": liked}]
    assert keep(clip={"model": str(tmp_path / "clip")}, weights={"clip": weight}) == [{"view": liked}]


def rewards_spec(name: str):  # type: ignore[no-untyped-def]
    from r1data.spec import RewardSpec

    return RewardSpec(reward=name)
