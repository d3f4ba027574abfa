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
    layout = corpus_layout(open_corpus(out))
    config = layout.label_config()
    controls = config_controls(config)
    assert {("Image", "images_0"), ("Image", "images_2"), ("TextArea", "cot"),
            ("TextArea", "target_box")} <= controls
    assert not any(name in ("objects", "point_cloud") for _, name in controls)   # too big to review
    # the view drawn on is large and zoomable; the other views small, in one row below it
    assert '<Image name="images_0" value="$images_0" zoom="true"' in config
    row = config[config.index('<View style="display: flex'):]
    assert row.index('name="images_1"') < row.index('name="images_2"') < row.index("</View>")
    # read-only fields are read from prefixed task keys: Label Studio's editor shows the whole
    # task for a plain $source
    assert '<Text name="ctx_source" value="$ctx_source"/>' in config
    task = TaskBuilder(layout, None, "v").task({"id": "r1", "split": "train", "source": "procedural"})  # type: ignore[arg-type]
    assert task["data"]["ctx_source"] == "procedural" and "source" not in task["data"]


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


# -- video time spans ----------------------------------------------------------------------------

def test_longvideo_spans_become_timeline_labels_on_the_video() -> None:
    from r1data.review.layout import SPANS
    from r1data.schema import load_schema

    layout = derive_layout(load_schema(Path(__file__).parents[1] / "schemas" / "longvideo.yaml"))
    config = layout.label_config()
    controls = config_controls(config)
    assert {("Video", "videos"), ("TimelineLabels", "clips"), ("TimelineLabels", "captions"),
            ("TextArea", "captions__caption"), ("TextArea", "reasoning"), ("Text", "ctx_options")} <= controls
    assert layout.control("captions").kind == SPANS and layout.control("captions").texts == ("caption",)
    assert layout.control("clips").texts == ()
    assert layout.fps_field == "video_fps" and 'framerate="$r1data_fps"' in config
    assert '<TimelineLabels name="clips" toName="videos">' in config


def test_spans_convert_seconds_to_frames_and_back() -> None:
    from r1data.review.layout import ReviewLayout
    from r1data.schema import Field, RecordSchema, parse_type

    schema = RecordSchema("v", (Field("id", parse_type("string")), Field("video", parse_type("video")),
                                Field("events", parse_type("list<struct<start: float32, end: float32, label: string>>"))))
    layout: ReviewLayout = derive_layout(schema)
    row = {"id": "a", "video": "v.mp4",
           "events": [{"start": 0.0, "end": 2.0, "label": "walk"}, {"start": 2.5, "end": 4.0, "label": "sit"}]}
    result = prediction_result(row, layout, None, fps=10.0)
    regions = [r for r in result if r["from_name"] == "events"]
    assert [r["value"]["ranges"] for r in regions] == [[{"start": 1, "end": 20}], [{"start": 26, "end": 40}]]
    _, values = result_values(result, layout, None, fps=10.0)
    assert values["events"] == row["events"] and corrections(values, row, layout, None, fps=10.0) == {}
    regions[0]["value"]["ranges"] = [{"start": 6, "end": 20}]               # now 0.5 s .. 2.0 s
    _, values = result_values(result, layout, None, fps=10.0)
    fixed = corrections(values, row, layout, None, fps=10.0)
    assert fixed == {"events": [{"start": 0.5, "end": 2.0, "label": "walk"}, row["events"][1]]}
    from r1data.review.convert import Unconvertible

    with pytest.raises(Unconvertible, match="frame rate"):
        result_values(result, layout, None, fps=None)


def test_missing_label_studio_fails_when_ci_requires_it(monkeypatch, tmp_path: Path) -> None:
    from servers.labelstudio import REQUIRE_ENV, label_studio_or_skip

    monkeypatch.setenv("R1DATA_LABEL_STUDIO", str(tmp_path / "no-label-studio"))
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception):
        label_studio_or_skip()
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="R1DATA_REQUIRE_LABEL_STUDIO=1 but label-studio not installed"):
        label_studio_or_skip()
