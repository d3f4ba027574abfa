"""embodied_points end to end: build through the CLI, load, check what a user would notice."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from r1data import open_corpus
from r1data.geometry import png_to_mask, points_in_mask, points_in_polygon
from r1data.parsing import parse_points

REPO = Path(__file__).resolve().parents[1]
SIZE = 32


def _build(out: Path, size: int = SIZE, *extra: str) -> str:
    from r1data.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["build", "embodied_points", "--size", str(size), "-o", str(out), "--no-progress", *extra])
    assert code == 0, buf.getvalue()
    return buf.getvalue()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[dict]]:
    out = tmp_path_factory.mktemp("ep") / "out"
    summary = _build(out)
    corpus = open_corpus(out)
    rows = [r for s in corpus.splits for r in corpus.table(s).to_pylist()]
    return out, summary, rows


def test_summary_and_row_count(built: tuple[Path, str, list[dict]]) -> None:
    _, summary, rows = built
    assert f"built embodied_points: {SIZE} rows kept" in summary and "rejected: 0" in summary
    assert len(rows) == SIZE


def test_four_abilities_with_embodied_r1_types(built: tuple[Path, str, list[dict]]) -> None:
    _, _, rows = built
    by = {}
    for r in rows:
        by.setdefault(r["ability"], set()).add(r["data_type"])
    assert set(by) == {"REG", "RRG", "OFG", "VTG"}
    assert by["REG"] == {"point_rec"} and by["OFG"] == {"grounding_rec"} and by["VTG"] == {"fsd_visual_trace"}
    assert by["RRG"] <= {"fsd_free_point", "point_ref"}
    for r in rows:
        assert r["answer"].startswith(f"<type>{r['data_type']}</type>")
        assert r["problem"].startswith("<image>") and r["instruction"] in r["problem"]


def test_schema_fields_are_the_columns(built: tuple[Path, str, list[dict]], tmp_path: Path) -> None:
    out, _, _ = built
    ds = open_corpus(out).to_datasets(cache_dir=str(tmp_path / "hf"))
    fields = yaml.safe_load((REPO / "schemas/embodied_points.yaml").read_text())["fields"]
    split = next(iter(ds.values()))
    assert set(split.features) == set(fields)
    row = split[0]
    assert isinstance(row["images"][0], Image.Image) and row["images"][0].size == (row["width"], row["height"])


def test_points_fall_inside_the_target_in_the_stored_image(built: tuple[Path, str, list[dict]]) -> None:
    _, _, rows = built
    for r in rows:
        with Image.open(io.BytesIO(r["images"][0]["bytes"])) as im:
            assert im.size == (r["width"], r["height"])
        mask = png_to_mask(r["target_mask"]["bytes"])
        assert mask.shape == (r["height"], r["width"])
        pts = parse_points(r["solution"])
        assert pts is not None and pts.tolist() == [[float(x), float(y)] for x, y in r["points"]]
        payload = json.loads(r["answer"].split("</type>", 1)[1])
        if r["ability"] == "VTG":
            obj = png_to_mask(r["object_mask"]["bytes"])
            assert len(pts) == 8 and points_in_mask(pts[:1], obj)[0] and points_in_mask(pts[-1:], mask)[0]
            assert payload["trajectory"] == r["points"]
            continue
        assert points_in_mask(pts, mask).all(), r["id"]
        if r["data_type"] in ("point_rec", "grounding_rec"):
            assert points_in_polygon(pts, payload["segmentation"]).all()
        # the target is drawn: its pixels are not all one colour with the background around it
        img = np.asarray(Image.open(io.BytesIO(r["images"][0]["bytes"])).convert("RGB"))
        assert img[mask].std() > 0 or r["ability"] == "RRG"


def test_ofg_targets_are_functional_parts(built: tuple[Path, str, list[dict]]) -> None:
    _, _, rows = built
    parts = {r["target_part"] for r in rows if r["ability"] == "OFG"}
    assert parts and parts <= {"handle", "lid", "knob", "cap", "spout", "blade", "screen", "head", "keyboard"}


def test_solutions_earn_full_reward_and_wrong_points_do_not(built: tuple[Path, str, list[dict]]) -> None:
    from r1data.rewards.embodied import total

    _, _, rows = built
    good = total(completions=[r["solution"] for r in rows], answer=[r["answer"] for r in rows],
                 data_type=[r["data_type"] for r in rows])
    assert min(good) >= 0.95
    bad_text = "<think>guess</think><answer><point>[[1, 1], [2, 2], [3, 3], [4, 4], [5, 5], [6, 6], [7, 7], [8, 8]]</point></answer>"
    bad = total(completions=[bad_text] * len(rows), answer=[r["answer"] for r in rows],
                data_type=[r["data_type"] for r in rows])
    assert max(bad) < 0.5


def test_spec_rewards_are_registered() -> None:
    import r1data.rewards as rewards

    spec = yaml.safe_load((REPO / "pipelines/embodied_points.yaml").read_text())
    names = [r["reward"] for r in spec["rewards"]]
    assert names and set(names) <= set(rewards.names())


def test_same_seed_builds_the_same_rows(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _build(a, 8)
    _build(b, 8)
    ta = [r for s in open_corpus(a).splits for r in open_corpus(a).table(s).to_pylist()]
    tb = [r for s in open_corpus(b).splits for r in open_corpus(b).table(s).to_pylist()]
    assert [(r["id"], r["answer"], r["images"][0]["bytes"]) for r in ta] == [(r["id"], r["answer"], r["images"][0]["bytes"]) for r in tb]


def test_verifiers_reject_broken_rows(built: tuple[Path, str, list[dict]]) -> None:
    from r1data.corpora.embodied_points import verifiers as v

    _, _, rows = built
    vtg = dict(next(r for r in rows if r["ability"] == "VTG"))
    vtg["target_mask"] = vtg["target_mask"]["bytes"]
    vtg["object_mask"] = vtg["object_mask"]["bytes"]
    assert v.trace_check(vtg)[0]
    short = dict(vtg, answer="<type>fsd_visual_trace</type>" + json.dumps({"trajectory": vtg["points"][:5]}))
    assert v.trace_check(short) == (False, "trace has 5 points, expected 8")
    backwards = list(reversed(vtg["points"]))
    rev = dict(vtg, points=backwards, answer="<type>fsd_visual_trace</type>" + json.dumps({"trajectory": backwards}))
    assert not v.trace_check(rev)[0]
    reg = dict(next(r for r in rows if r["ability"] == "REG"))
    reg["target_mask"] = reg["target_mask"]["bytes"]
    assert v.in_target(reg)[0]
    assert not v.in_target(dict(reg, points=[[0, 0]]))[0]
    assert not v.inside_image(dict(reg, points=[[reg["width"] + 5, 3]]))[0]
    assert not v.answer_format(dict(reg, answer="<type>point_rec</type>{not json"))[0]
    assert not v.answer_format(dict(reg, data_type="fsd_visual_trace"))[0]
