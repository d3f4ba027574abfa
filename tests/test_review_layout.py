"""Review without a server: the labeling config derived from schemas, value conversions, merging."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from r1data import build, open_corpus
from r1data.review import load_reviews, review_summary, reviewed_table
from r1data.review.convert import corrections, prediction_result, result_values
from r1data.review.layout import config_controls, derive_layout, schema_from_manifest
from r1data.review.push import TaskBuilder, corpus_layout
from r1data.review.store import REVIEWS_SCHEMA, save_reviews

sys.path.insert(0, str(Path(__file__).parent))
from test_review_shapes import write_workspace  # noqa: E402


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    out = root / "out"
    build("shapes", out, workspace=write_workspace(root / "ws"), progress=False)
    return out


def test_config_follows_the_schema(shapes: Path) -> None:
    layout = corpus_layout(open_corpus(shapes))
    controls = config_controls(layout.label_config())
    assert {("RectangleLabels", "box"), ("RectangleLabels", "boxes"), ("KeyPointLabels", "trace"),
            ("BrushLabels", "mask"), ("TextArea", "question"), ("TextArea", "answer"),
            ("Image", "image"), ("Text", "ctx_caption"), ("Choices", "r1data_verdict")} <= controls
    assert layout.control("boxes").multiple and not layout.control("box").multiple


def test_scene30k_config_has_every_view_and_editable_text(tmp_path: Path) -> None:
    out = tmp_path / "scene"
    build("scene30k", out, size=8, progress=False)
    controls = config_controls(corpus_layout(open_corpus(out)).label_config())
    assert {("Image", "images_0"), ("Image", "images_2"), ("TextArea", "cot"),
            ("TextArea", "target_box")} <= controls
    assert not any(name in ("objects", "point_cloud") for _, name in controls)   # too big to review


def test_geometry_without_an_image_is_refused() -> None:
    from r1data.schema import Field, RecordSchema, parse_type

    schema = RecordSchema("nope", (Field("id", parse_type("string")), Field("box", parse_type("box2d"))))
    with pytest.raises(ValueError, match="no image field"):
        derive_layout(schema)


def test_percent_and_rle_round_trip(shapes: Path) -> None:
    corpus = open_corpus(shapes)
    layout = corpus_layout(corpus)
    row = corpus.table("train").to_pylist()[2]
    size = TaskBuilder(layout, media=None, model_version="").image_size(row)  # type: ignore[arg-type]
    assert size == (64, 48)
    result = prediction_result(row, layout, size)
    verdict, values = result_values(result, layout, size)
    assert verdict is None
    assert values["box"] == pytest.approx(row["box"])
    assert np.allclose(values["trace"], row["trace"])
    from PIL import Image
    import io
    assert (values["mask"] == (np.asarray(Image.open(io.BytesIO(row["mask"]["bytes"]))) > 0)).all()
    assert corrections(values, row, layout, size) == {}       # untouched pre-annotation = no change
    for r in result:
        if r["from_name"] == "boxes" and r["id"] == "boxes_1":
            r["value"]["width"] /= 2
    _, values = result_values(result, layout, size)
    fixed = corrections(values, row, layout, size)
    assert list(fixed) == ["boxes"] and fixed["boxes"][1][2] == pytest.approx(36 + (60 - 36) / 2)


def test_reviewed_table_applies_latest_verdicts(shapes: Path) -> None:
    rows = open_corpus(shapes).table("train").column("id").to_pylist()
    t = lambda s: datetime(2026, 1, 1, 0, 0, s, tzinfo=timezone.utc)  # noqa: E731
    new = pa.Table.from_pylist([
        {"id": rows[0], "verdict": "reject", "corrected": "{}", "reviewer": "a", "reviewed_at": t(1),
         "task_id": 1, "project": "p", "annotation_id": 1},
        {"id": rows[1], "verdict": "fixed", "corrected": json.dumps({"answer": "right", "box": [1, 2, 3, 4]}),
         "reviewer": "a", "reviewed_at": t(2), "task_id": 2, "project": "p", "annotation_id": 2},
        {"id": rows[1], "verdict": "fixed", "corrected": json.dumps({"answer": "right", "box": [1, 2, 3, 4]}),
         "reviewer": "b", "reviewed_at": t(3), "task_id": 2, "project": "p", "annotation_id": 3},
    ], schema=REVIEWS_SCHEMA)
    assert save_reviews(shapes, new, "p") == {"added": 3, "updated": 0, "kept": 0}
    assert save_reviews(shapes, new.slice(0, 1), "p") == {"added": 0, "updated": 1, "kept": 2}
    assert load_reviews(shapes).num_rows == 3
    merged = reviewed_table(shapes, "train")
    assert merged.schema == open_corpus(shapes).table("train").schema
    ids = merged.column("id").to_pylist()
    assert rows[0] not in ids and ids == [r for r in rows if r != rows[0]]       # order kept
    fixed = merged.to_pylist()[0]
    assert fixed["answer"] == "right" and fixed["box"] == [1, 2, 3, 4]
    text = review_summary(open_corpus(shapes))
    assert "2 of 6 rows" in text and "1 of 1 rows reviewed more than once" in text
    assert open_corpus(shapes).verify_checksums() == []
