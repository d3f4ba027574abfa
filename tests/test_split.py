"""The split step: a source's own split is kept, other rows are hashed by group."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from r1data import open_corpus
from r1data.errors import UsageError
from r1data.steps.base import Reject, StepContext
from r1data.steps.split import Split


def make(**kw) -> Split:  # type: ignore[no-untyped-def]
    return Split(StepContext(seed=7, corpus="c", step="split"), by="scene_id",
                 ratios={"train": 0.5, "validation": 0.25, "test": 0.25}, **kw)


def test_source_split_is_kept_and_renamed_other_rows_are_hashed() -> None:
    rows = [{"id": "a", "scene_id": "s1", "split": "val"}, {"id": "b", "scene_id": "s1", "split": "testA"},
            {"id": "c", "scene_id": "s1"}, {"id": "d", "scene_id": "s1", "split": ""}]
    out = list(make()(rows))
    assert [r["split"] for r in out[:2]] == ["validation", "testA"]
    assert out[2]["split"] == out[3]["split"] == make().split_of("s1")     # same group, same hashed split
    hashed = list(make(keep_source=False)([{"id": "a", "scene_id": "s1", "split": "val"}]))
    assert hashed[0]["split"] == make().split_of("s1")


def test_a_bad_source_split_is_a_reject_and_bad_names_a_usage_error() -> None:
    out = list(make()([{"id": "a", "scene_id": "s", "split": "val/../x"}]))
    assert isinstance(out[0], Reject) and out[0].reason == "bad_source_split"
    with pytest.raises(UsageError, match="letters, digits"):
        make(source_names={"val": "valid ation"})


def _png(arr: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


def test_released_earthreason_keeps_train_val_and_test(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    lab = np.zeros((32, 32), dtype=np.uint8)
    lab[4:12, 4:20] = 1
    for split, stem in (("train", "t1"), ("val", "v1"), ("test", "x1")):
        root = tmp_path / "EarthReason" / split
        for sub in ("images", "labels", "QAs"):
            (root / sub).mkdir(parents=True)
        (root / "images" / f"{stem}.png").write_bytes(_png(np.full((32, 32, 3), 80, np.uint8)))
        (root / "labels" / f"{stem}.png").write_bytes(_png(lab))
        (root / "QAs" / f"{stem}.json").write_text(json.dumps({"questions": ["Where could planes land?"],
                                                               "answer": ["the strip"]}))
    r = cli("build", "earthreason", "--source", "released", "--source-dir", tmp_path / "EarthReason",
            "-o", tmp_path / "out", "--no-progress")
    assert r.exit_code == 0, r.stderr
    corpus = open_corpus(tmp_path / "out")
    got = {s: [x["image_id"] for x in corpus.table(s).to_pylist()] for s in corpus.splits}
    assert got == {"train": ["t1"], "validation": ["v1"], "test": ["x1"]}
