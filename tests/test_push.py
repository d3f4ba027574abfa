"""`r1data push`: Parquet in the Hub's layout, the dataset card, and the upload through the real
huggingface_hub client to a Hub stand-in on 127.0.0.1 (tests/hub_server.py)."""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import run_r1data  # noqa: E402
from hub_server import FakeHub  # noqa: E402

SECRET = "hf_TESTSECRETtoken0123456789"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """A tiny scene30k build with three splits (enough scenes for validation and test)."""
    out = tmp_path_factory.mktemp("push") / "s30"
    r = run_r1data("build", "scene30k", "--size", "160", "-o", out, "--no-progress")
    assert r.returncode == 0, r.stderr
    return out


def hub_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No stored login, no offline switch; the real client talks plain LFS (not Xet)."""
    return {"HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1", "HF_TOKEN": "", **extra}


def test_dry_run_loads_with_declared_features_and_split_sizes(built, tmp_path, cli):
    import datasets
    from huggingface_hub import DatasetCard

    from r1data.corpus import Corpus

    corpus = Corpus(built)
    dry = tmp_path / "preview"
    r = cli("push", built, "--repo", "lab/scene30k-r1", "--dry-run", dry)
    assert r.exit_code == 0, r.stderr
    assert sorted(p.name for p in (dry / "data").iterdir()) == [
        f"{s}-00000-of-00001.parquet" for s in sorted(corpus.splits)]

    ds = datasets.load_dataset(str(dry))
    assert set(ds) == set(corpus.splits)
    for split in corpus.splits:
        assert ds[split].num_rows == corpus.manifest["splits"][split]["rows"]
    assert ds["train"].features == corpus.features()
    row = ds["train"][0]
    assert row["id"] == corpus.table("train").column("id")[0].as_py()
    assert row["images"][0].size == (224, 224)      # images embedded, decoded as images

    card = DatasetCard.load(dry / "README.md")
    meta = card.data.to_dict()
    assert meta["license"] == "cc-by-4.0"
    assert meta["size_categories"] == ["n<1K"]
    assert "visual-question-answering" in meta["task_categories"]
    assert {s["name"]: s["num_examples"] for s in meta["dataset_info"]["splits"]} == {
        s: corpus.manifest["splits"][s]["rows"] for s in corpus.splits}
    assert meta["configs"][0]["data_files"][0] == {"split": "train", "path": "data/train-*"}
    body = card.text
    assert corpus.manifest["spec_hash"] in body                 # the spec and its hash
    assert "scene30k_answer_matches_truth" in body              # verifier pass rates
    assert "scene30k_cot.jinja" in body and "## Question" in body   # the prompt used
    assert "arXiv:2507.23478" in body                           # the citation
    assert "**question_type**:" in body                         # answer/class balance from DuckDB
    assert row["id"] in body                                    # the example record


def test_parquet_files_are_cut_by_size_and_paged_for_the_viewer(built, tmp_path, cli):
    dry = tmp_path / "preview"
    r = cli("push", built, "--repo", "lab/s", "--dry-run", dry, "--max-shard-mb", "0.3")
    assert r.exit_code == 0, r.stderr
    files = sorted((dry / "data").glob("train-*.parquet"))
    assert len(files) > 1
    assert all(f.name.endswith(f"-of-{len(files):05d}.parquet") for f in files)
    from r1data.corpus import Corpus

    assert sum(pq.ParquetFile(f).metadata.num_rows for f in files) == Corpus(built).manifest["splits"]["train"]["rows"]
    meta = pq.ParquetFile(files[0]).metadata
    assert all(meta.row_group(i).num_rows <= 100 for i in range(meta.num_row_groups))   # image rows


def test_upload_goes_through_the_real_client(built, tmp_path):
    dry = tmp_path / "preview"
    assert run_r1data("push", built, "--repo", "lab/scene30k-r1", "--dry-run", dry).returncode == 0
    with FakeHub() as hub:
        r = run_r1data("push", built, "--repo", "lab/scene30k-r1", "--private", "--revision", "v1",
                       env=hub_env(tmp_path, HF_ENDPOINT=hub.root, HF_TOKEN=SECRET))
        assert r.returncode == 0, r.stderr
        state = hub.state
    assert "pushed lab/scene30k-r1@v1 in 1 commit(s)" in r.stdout
    assert state.private["lab/scene30k-r1"] is True
    assert len(state.commits) == 1 and state.commits[0]["revision"] == "v1"
    uploaded = state.repos["lab/scene30k-r1"]["v1"]
    expected = {p.relative_to(dry).as_posix(): p.read_bytes() for p in dry.rglob("*") if p.is_file()}
    assert set(uploaded) == set(expected)                    # exactly what --dry-run showed
    assert uploaded["README.md"] == expected["README.md"]
    for name in expected:
        if name.endswith(".parquet"):
            assert pq.read_table(io.BytesIO(uploaded[name])).equals(pq.read_table(dry / name))
    assert state.validated and state.validated[0]["dataset_info"]["features"]   # card metadata checked
    authed = [q for q in state.requests if q.path.startswith("/api/")]
    assert authed and all(q.auth == f"Bearer {SECRET}" for q in authed if "agent" not in q.path)
    assert all(SECRET.encode() not in data for data in uploaded.values())   # nothing secret published
    assert SECRET not in r.stdout + r.stderr


def test_large_pushes_are_split_into_several_commits(built, tmp_path, monkeypatch):
    from r1data.publish import prepare
    from r1data.publish.hub import upload_folder

    prepared = prepare(built, tmp_path / "repo", repo_id="lab/s", max_shard_mb=0.3)
    n_files = sum(1 for _ in (tmp_path / "repo" / "data").iterdir())
    with FakeHub() as hub:
        for key, value in hub_env(tmp_path, HF_TOKEN=SECRET).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("HF_ENDPOINT", hub.root)
        import huggingface_hub.constants as c

        monkeypatch.setattr(c, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(c, "HF_HUB_DISABLE_XET", True)
        result = upload_folder(prepared.folder, "lab/s", commit_files=2)
        commits = hub.state.commits
    assert len(result.commits) == len(commits) == -(-n_files // 2)
    assert all("README.md" not in c["files"] for c in commits[:-1])    # the card comes last
    assert "README.md" in commits[-1]["files"]
    assert sum(len(c["files"]) for c in commits) == n_files + 1


def test_no_token_says_how_to_log_in(built, tmp_path):
    r = run_r1data("push", built, "--repo", "lab/s", env=hub_env(tmp_path, HF_ENDPOINT="http://127.0.0.1:9"))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert "HF_TOKEN" in r.stderr and "hf auth login" in r.stderr


def test_a_corpus_whose_shards_changed_is_refused(built, tmp_path, cli):
    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    shard = next((copy / "data").glob("train-*.arrow"))
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    r = cli("push", copy, "--repo", "lab/s", "--dry-run", tmp_path / "dry")
    assert r.exit_code == 1
    assert "checksum" in r.stderr and shard.name in r.stderr
    assert not (tmp_path / "dry").exists()


def test_bad_repo_id_is_a_usage_error(built, cli):
    r = cli("push", built, "--repo", "no-slash")
    assert r.exit_code == 2 and "ORG/NAME" in r.stderr


def test_reviewed_push_drops_rejected_rows_and_applies_fixes(built, tmp_path, cli):
    import datetime as dt
    import json

    import datasets
    import pyarrow as pa

    from r1data.corpus import Corpus
    from r1data.review.store import REVIEWS_SCHEMA, save_reviews

    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    r = cli("push", copy, "--repo", "lab/s", "--reviewed", "--dry-run", tmp_path / "none")
    assert r.exit_code == 2 and "no reviews" in r.stderr

    ids = Corpus(copy).table("train").column("id").to_pylist()[:3]
    now = dt.datetime.now(dt.timezone.utc)
    reviews = pa.Table.from_pylist([
        {"id": ids[0], "verdict": "reject", "corrected": "{}"},
        {"id": ids[1], "verdict": "fixed", "corrected": json.dumps({"answer": "a reviewer's answer"})},
        {"id": ids[2], "verdict": "accept", "corrected": "{}"},
    ], schema=pa.schema([REVIEWS_SCHEMA.field("id"), REVIEWS_SCHEMA.field("verdict"),
                         REVIEWS_SCHEMA.field("corrected")]))
    n = reviews.num_rows
    reviews = reviews.append_column("reviewer", pa.array(["ana@lab"] * n)) \
        .append_column("reviewed_at", pa.array([now] * n, REVIEWS_SCHEMA.field("reviewed_at").type)) \
        .append_column("task_id", pa.array([1, 2, 3], pa.int64())) \
        .append_column("project", pa.array(["p"] * n)) \
        .append_column("annotation_id", pa.array([11, 12, 13], pa.int64()))
    save_reviews(copy, reviews.select(REVIEWS_SCHEMA.names), project="p")

    dry = tmp_path / "reviewed"
    r = cli("push", copy, "--repo", "lab/s", "--reviewed", "--dry-run", dry)
    assert r.exit_code == 0, r.stderr
    train = datasets.load_dataset(str(dry))["train"]
    assert train.num_rows == Corpus(copy).manifest["splits"]["train"]["rows"] - 1
    by_id = {row["id"]: row["answer"] for row in train.select_columns(["id", "answer"])}
    assert ids[0] not in by_id and by_id[ids[1]] == "a reviewer's answer"
    assert "Not reviewed by people" not in (dry / "README.md").read_text()
