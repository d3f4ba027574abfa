"""The real-data sources of scene30k (ScanQA, SQA3D, ScanRefer, Nr3D over ScanNet scans).

Fixtures are tiny scans and annotation files in the released formats, written by
tests/fixtures/make_scannet_fixture.py (its EXPECTED holds the true boxes).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from r1data.corpora.scene30k import readers, scannet
from r1data.corpora.scene30k.scannet import read_ply_vertices
from r1data.errors import UsageError
from r1data.registry import sources, steps
from r1data.steps.base import Reject, StepContext

FIXTURES = Path(__file__).parent / "fixtures"
SCANNET = FIXTURES / "scannet"
_spec = importlib.util.spec_from_file_location("make_scannet_fixture", FIXTURES / "make_scannet_fixture.py")
fixture = importlib.util.module_from_spec(_spec)   # type: ignore[arg-type]
_spec.loader.exec_module(fixture)                  # type: ignore[union-attr]
EXPECTED = fixture.EXPECTED


def make(name: str, root: Path = SCANNET, **params):  # type: ignore[no-untyped-def]
    ctx = StepContext(seed=1234, corpus="scene30k", step="source")
    return sources.get(name).make(ctx, {"dir": str(root), "split": "train", **params})


def scenes(src, start: int = 0) -> dict:  # type: ignore[no-untyped-def]
    return {it["id"]: it["scene"] for it in src.read(start) if not isinstance(it, Reject)}


def rejects(src) -> dict:  # type: ignore[no-untyped-def]
    return {it.row["id"]: (it.reason, it.detail) for it in src.read(0) if isinstance(it, Reject)}


def assert_boxes(scene, expected: dict, skip=("wall", "floor", "ceiling")) -> None:  # type: ignore[no-untyped-def]
    want = {oid: v for oid, v in expected.items() if v[0] not in skip}
    assert [o.id for o in scene.objects] == sorted(want)
    for o in scene.objects:
        label, center, size = want[o.id]
        assert o.category == label
        np.testing.assert_allclose(o.center, center, atol=1e-4)
        np.testing.assert_allclose(o.extent, size, atol=1e-4)
        assert o.yaw == 0.0 and o.color == ""


def copy_fixture(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(SCANNET, root)
    return root


# -- scans ------------------------------------------------------------------------------------

def test_mesh_boxes_are_measured_in_the_axis_aligned_frame():
    scene = scenes(make("scanqa"))["scene0000_00"]
    assert_boxes(scene, EXPECTED["scene0000_00"])
    assert scene.source == "scanqa" and scene.room_type == ""
    # without the axisAlignment the raw bed vertices give another box: the matrix was applied
    raw = read_ply_vertices(SCANNET / "scans/scene0000_00/scene0000_00_vh_clean_2.ply")
    raw_x = np.array(raw["x"], dtype=float)
    assert abs((raw_x.max() - raw_x.min()) - 4.0) > 0.5   # the room's x span became y


def test_keep_structure_keeps_walls_and_floors():
    scene = scenes(make("scanqa", keep_structure=True))["scene0000_00"]
    assert_boxes(scene, EXPECTED["scene0000_00"], skip=())


def test_scan_without_alignment_and_vh_clean_aggregation_name():
    scene = scenes(make("scanqa"))["scene0001_00"]
    assert_boxes(scene, EXPECTED["scene0001_00"])


def test_points_are_xyz_rgb_subsampled_deterministically():
    full = scenes(make("scanqa"))["scene0000_00"].points
    assert full.dtype == np.float32 and full.shape == (252, 6)
    assert full[:, 3:].min() >= 0 and full[:, 3:].max() <= 1 and full[:, 3:].max() > 0.2
    # points are in the aligned frame: inside the designed room (4 x 3 m, walls included)
    assert full[:, 0].min() > -0.6 and full[:, 0].max() < 4.01 and full[:, 1].max() < 3.01
    a = scenes(make("scanqa", max_points=50))["scene0000_00"].points
    b = scenes(make("scanqa", max_points=50))["scene0000_00"].points
    assert a.shape == (50, 6) and np.array_equal(a, b)
    assert {tuple(p) for p in a} <= {tuple(p) for p in full}


def test_boxes_json_and_aligned_bbox_npy_forms():
    got = scenes(make("scanqa"))
    assert_boxes(got["scene0002_00"], EXPECTED["scene0002_00"])
    assert got["scene0002_00"].points is None
    assert_boxes(got["scene0005_00"], EXPECTED["scene0005_00"])   # nyu40 ids -> names; wall dropped
    pts = got["scene0005_00"].points
    assert pts.shape == (60, 6) and pts[:, 3:].max() <= 1.0


# -- questions --------------------------------------------------------------------------------

def test_scanqa_questions_families_answers_and_rejects():
    src = make("scanqa")
    assert len(src) == 7   # the unanswered entry (a reject, first), then six scenes
    got = scenes(src)
    assert list(got) == ["scene0000_00", "scene0001_00", "scene0002_00", "scene0005_00"]
    qs = got["scene0000_00"].questions
    # file order; the unanswered question is rejected; the one naming absent object 99 is kept
    assert [q.question_id for q in qs] == ["train-scene0000-0", "train-scene0000-1", "train-scene0000-2"]
    assert [q.family for q in qs] == ["relation", "attribute", "existence"]
    assert qs[0].answers == ["brown wooden desk", "desk"] and qs[0].object_ids == [5]
    assert qs[2].object_ids == [99] and 99 not in {o.id for o in got["scene0000_00"].objects}
    assert all(q.source == "scanqa" and q.program == {"kind": "given"} for q in qs)
    assert got["scene0001_00"].questions[0].family == "counting"
    bad = rejects(src)
    assert bad["train-scene0000-3"] == ("missing_answer", "ScanQA_v1.0_train.json[8]: no answers")
    assert bad["scene0003_00"][0] == "missing_scene" and "scene0003_00" in bad["scene0003_00"][1]
    assert bad["scene0004_00"][0] == "unreadable_scene" and "40 of 500 vertices" in bad["scene0004_00"][1]


@pytest.mark.parametrize("text,family", [
    ("What color is the chair?", "attribute"), ("what is the colour of the rug", "attribute"),
    ("How many pillows are on the bed?", "counting"), ("Is there a lamp?", "existence"),
    ("Are there any windows?", "existence"), ("What is next to the sofa?", "relation"),
    ("Where is the tv placed?", "relation"), ("What is on the desk?", "relation"),
])
def test_scanqa_family(text, family):  # type: ignore[no-untyped-def]
    assert readers.scanqa_family(text) == family


def test_sqa3d_situated_questions_from_a_subfolder():
    src = make("sqa3d")
    got = scenes(src)
    assert list(got) == ["scene0000_00", "scene0001_00"]
    # scene0002's question has no annotation: rejected with its place in the file
    assert rejects(src)["220602000004"] == (
        "missing_answer", "v1_balanced_questions_train_scannetv2.json[3]: question 220602000004 has no entry "
        "in the annotations file")
    q0, q1 = got["scene0000_00"].questions
    assert q0.family == "situated" and q0.source == "sqa3d" and q0.question_id == "220602000001"
    assert q0.situation == "I am sitting on the office chair facing the desk."
    assert q0.question == "What is behind me?" and q0.answers == ["bed"]
    assert q0.program == {"kind": "given"}
    assert q1.answers == ["left"]
    # SQA3D has no object ids: the objects its texts name (office chair is not also a chair)
    assert q0.object_ids == [4, 5, 2] and q1.object_ids == [3, 2]
    assert got["scene0001_00"].questions[0].object_ids == [0]


def test_mentioned_objects_longest_name_plurals_and_every_instance():
    from r1data.corpora.scene30k.scene import SceneObject

    objs = [SceneObject(i, c, (0, 0, 0), (1, 1, 1)) for i, c in
            enumerate(["chair", "office chair", "chair", "Kitchen Cabinets", "box", "boxes"])]
    assert readers.mentioned_objects(["Two chairs face the office chair.", "next to the kitchen cabinets"],
                                     objs) == [0, 2, 1, 3]
    assert readers.mentioned_objects(["a boxer", "the sofa"], objs) == []
    assert readers.mentioned_objects(["the boxes"], objs) == [5]   # the longer name claims the words


def test_scanrefer_referring_questions_answered_with_the_target_box():
    got = scenes(make("scanrefer"))
    assert list(got) == ["scene0000_00", "scene0002_00", "scene0005_00"]
    chair, desk, absent = got["scene0000_00"].questions
    assert chair.family == "referring" and chair.object_ids == [3] and chair.question_id == "scene0000_00-3-0"
    assert chair.question == ('Find the object described as: "the chair is near the bed . it is \'black\' .". '
                              "Give its 3D box.")
    np.testing.assert_allclose(chair.target_box, [2.75, 0.35, 0.0, 3.25, 0.85, 0.9], atol=1e-4)
    assert chair.answers == ["box: [2.75, 0.35, 0.00, 3.25, 0.85, 0.90]"]
    assert desk.answers == ["box: [2.60, 2.30, 0.00, 3.80, 2.90, 0.75]"]
    # target 42 is not in the scan: kept, unanswered, for the object-id verifier to reject
    assert absent.object_ids == [42] and absent.answers == [] and absent.target_box is None
    lamp = got["scene0002_00"].questions[0]
    assert lamp.answers == ["box: [2.35, 0.35, 0.00, 2.65, 0.65, 1.60]"]


def test_nr3d_split_from_scan_list(tmp_path):
    src = make("nr3d")
    assert src.scene_ids == ["scene0000_00", "scene0001_00", "scene0003_00"]   # scene0009 not in train
    got = scenes(src)
    q = got["scene0001_00"].questions[0]
    assert q.question == 'Find the object described as: "the chair by the table". Give its 3D box.'
    assert q.object_ids == [1] and q.source == "nr3d" and q.question_id == "scene0001_00-nr3d000001"
    assert q.answers == ["box: [0.78, -0.03, 0.00, 1.23, 0.42, 0.90]"]
    assert rejects(src) == {"scene0003_00": rejects(src)["scene0003_00"]}
    # nr3d_{split}.csv wins over nr3d.csv + list; without either a list, a one-line UsageError
    root = copy_fixture(tmp_path)
    (root / "nr3d/train_scans.txt").unlink()
    with pytest.raises(UsageError, match=r"nr3d\.csv: has no split column; put ReferIt3D's train_scans\.txt"):
        make("nr3d", root)
    shutil.copy(root / "nr3d/nr3d.csv", root / "nr3d/nr3d_train.csv")
    assert make("nr3d", root).scene_ids == ["scene0000_00", "scene0001_00", "scene0003_00", "scene0009_00"]


@pytest.mark.parametrize("name", ["scanqa", "sqa3d", "scanrefer", "nr3d"])
def test_read_start_skips_scenes_without_loading_them(name, monkeypatch):  # type: ignore[no-untyped-def]
    def summary(items: list) -> list:  # type: ignore[type-arg]
        return [(it.row["id"], it.reason) if isinstance(it, Reject)
                else (it["id"], [q.question_id for q in it["scene"].questions], it["scene"].points is None
                      or it["scene"].points.tobytes()) for it in items]

    src = make(name)
    everything = summary(list(src.read(0)))
    assert len(everything) == len(src)
    loaded: list[str] = []
    real = scannet.ScanNetLayout.load

    def spy(self, scene_id, **kw):  # type: ignore[no-untyped-def]
        loaded.append(scene_id)
        return real(self, scene_id, **kw)

    monkeypatch.setattr(scannet.ScanNetLayout, "load", spy)
    for start in range(len(src) + 1):
        loaded.clear()
        assert summary(list(make(name).read(start))) == everything[start:]
        assert loaded == src.scene_ids[max(0, start - len(src.bad)):]


# -- bad input ----------------------------------------------------------------------------------

def test_missing_source_dir_is_a_one_line_usage_error(tmp_path):
    with pytest.raises(UsageError) as e:
        make("scanqa", tmp_path / "nowhere")
    assert "nowhere: no such directory" in e.value.message and "ScanQA_v1.0_train.json" in e.value.message
    assert "\n" not in e.value.message


@pytest.mark.parametrize("name,expected", [
    ("scanqa", r"no ScanQA_v1\.0_val\.json in it or its sub-folders"),
    ("sqa3d", r"no v1_balanced_questions_val_scannetv2\.json in it or its sub-folders"),
    ("scanrefer", r"no ScanRefer_filtered_val\.json in it or its sub-folders"),
    ("nr3d", r"nr3d\.csv: has no split column; put ReferIt3D's val_scans\.txt"),
])
def test_no_annotation_file_for_the_split(name, expected):  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match=expected) as e:
        make(name, split="val")
    assert "\n" not in e.value.message


def test_bad_annotation_files(tmp_path):
    root = copy_fixture(tmp_path)
    (root / "ScanQA_v1.0_train.json").write_text("[{not json")
    with pytest.raises(UsageError, match=r"ScanQA_v1\.0_train\.json: not readable JSON"):
        make("scanqa", root)
    (root / "ScanQA_v1.0_train.json").write_text(json.dumps([
        {"scene_id": "scene0000_00", "question": "What is it?", "question_id": "test-1", "object_ids": []}]))
    with pytest.raises(UsageError, match="ScanQA's test files have none"):
        make("scanqa", root)
    (root / "nr3d/nr3d.csv").write_text("a,b\n1,2\n")
    with pytest.raises(UsageError, match="expected columns utterance and scan_id, target_id"):
        make("nr3d", root)


def test_broken_scans_are_rejected_and_the_rest_goes_on(tmp_path):
    root = copy_fixture(tmp_path)
    scans = root / "scans"
    (scans / "scene0000_00/scene0000_00_vh_clean_2.0.010000.segs.json").write_text('{"segIndices": [1, 2')
    (scans / "scene0001_00/scene0001_00_vh_clean.aggregation.json").unlink()
    bad = rejects(make("scanqa", root))
    assert bad["scene0000_00"][0] == "unreadable_scene" and "not valid JSON" in bad["scene0000_00"][1]
    assert bad["scene0001_00"] == ("missing_scene", f"{scans / 'scene0001_00'}: scene0001_00.aggregation.json "
                                   "or scene0001_00_vh_clean.aggregation.json not found")
    assert "scene0002_00" in scenes(make("scanqa", root))
    # an incomplete scan folder gives way to a boxes file
    (root / "boxes/scene0001_00.json").write_text(json.dumps(
        [{"id": 1, "label": "chair", "center": [1, 0.2, 0.45], "size": [0.45, 0.45, 0.9]}]))
    scene = scenes(make("scanqa", root))["scene0001_00"]
    assert [o.id for o in scene.objects] == [1] and scene.points is None
    (root / "boxes/scene0001_00.json").unlink()

    (scans / "scene0000_00/scene0000_00_vh_clean_2.0.010000.segs.json").write_text('{"segIndices": [1, 2]}')
    (scans / "scene0001_00/scene0001_00_vh_clean_2.ply").write_bytes(b"PK\x03\x04 a zip, not a mesh")
    (scans / "scene0001_00/scene0001_00.aggregation.json").write_text('{"segGroups": []}')
    bad = rejects(make("scanqa", root))
    segs = scans / "scene0000_00/scene0000_00_vh_clean_2.0.010000.segs.json"
    assert bad["scene0000_00"] == ("unreadable_scene", f"{segs}: 2 segIndices for 252 vertices")
    assert bad["scene0001_00"][0] == "unreadable_scene" and "not a PLY file" in bad["scene0001_00"][1]


def test_ply_ascii_and_big_endian_read_like_binary(tmp_path):
    path = SCANNET / "scans/scene0001_00/scene0001_00_vh_clean_2.ply"
    ref = read_ply_vertices(path)
    names = ref.dtype.names
    header = ("ply\nformat {fmt} 1.0\nelement vertex {n}\n" + "".join(
        f"property {'float' if ref.dtype[k].kind == 'f' else 'uchar'} {k}\n" for k in names)
        + "element face 1\nproperty list uchar int vertex_indices\nend_header\n").format
    body = "\n".join(" ".join(str(row[k]) for k in names) for row in ref) + "\n3 0 1 2\n"
    (tmp_path / "a.ply").write_text(header(fmt="ascii", n=len(ref)) + body)
    big = ref.astype(ref.dtype.newbyteorder(">"))
    (tmp_path / "b.ply").write_bytes(header(fmt="binary_big_endian", n=len(ref)).encode() + big.tobytes())
    for name in ("a.ply", "b.ply"):
        got = read_ply_vertices(tmp_path / name)
        for k in names:
            np.testing.assert_allclose(got[k], ref[k], rtol=1e-6)


# -- through the CLI (needs the lead's scene30k steps) ---------------------------------------------

needs_steps = pytest.mark.skipif(
    not {"render_views", "sample_point_cloud", "generate_questions"} <= set(steps.names()),
    reason="scene30k's render_views / sample_point_cloud / generate_questions are not registered yet")


@needs_steps
def test_cli_missing_source_dir(cli, tmp_path):  # type: ignore[no-untyped-def]
    res = cli("build", "scene30k", "--source", "scanqa", "--source-dir", tmp_path / "nowhere",
              "-o", tmp_path / "out", "--size", "3", "--no-progress")
    assert res.exit_code == 2
    assert "nowhere: no such directory" in res.stderr and len(res.stderr.strip().splitlines()) == 1


@needs_steps
@pytest.mark.parametrize("name", ["scanqa", "sqa3d", "scanrefer", "nr3d"])
def test_cli_build_from_fixture_scans(cli, tmp_path, name):  # type: ignore[no-untyped-def]
    import r1data

    out = tmp_path / "out"
    res = cli("build", "scene30k", "--source", name, "--source-dir", SCANNET, "-o", out, "--size", "50",
              "--no-progress")
    assert res.exit_code == 0, res.stderr + res.stdout
    corpus = r1data.open_corpus(out)
    rows = [r for split in corpus.splits for r in corpus.table(split).to_pylist()]
    assert rows and {r["source"] for r in rows} == {name}
    assert {r["scene_id"] for r in rows} <= {"scene0000_00", "scene0001_00", "scene0002_00", "scene0005_00"}
    assert all(r["room_type"] == "" and r["images"] and len(r["point_cloud"]) > 0 for r in rows)
    rej = corpus.rejects().to_pylist()
    source_rejects = {r["id"]: r["reason"] for r in rej if r["step"] == "source"}
    kept = {r["id"] for r in rows}
    files = {f["path"]: f for f in corpus.manifest["source_files"]["files"]}
    assert corpus.manifest["source_files"]["root"] == str(SCANNET)
    for path, f in files.items():   # every file read, relative to --source-dir, with its checksum
        assert f["sha256"] == hashlib.sha256((SCANNET / path).read_bytes()).hexdigest()
        assert f["bytes"] == (SCANNET / path).stat().st_size
    if name in ("scanqa", "sqa3d", "scanrefer"):   # scene0000's scan folder was read
        assert files["scans/scene0000_00/scene0000_00_vh_clean_2.ply"]["kind"] == "media"
    if name == "scanqa":
        assert files["ScanQA_v1.0_train.json"]["kind"] == "annotation"
        assert source_rejects == {"train-scene0000-3": "missing_answer", "scene0003_00": "missing_scene",
                                  "scene0004_00": "unreadable_scene"}
        assert "train-scene0000-2" not in kept   # names object 99, absent from the scan
        assert any(r["id"] == "train-scene0000-2" for r in rej)
        assert {r["question_type"] for r in rows} <= {"attribute", "counting", "existence", "relation"}
    elif name == "sqa3d":
        assert all(r["question_type"] == "situated" and r["situation"].startswith("I am") for r in rows)
        assert {r["answer"] for r in rows} <= {"bed", "left", "no"}
        assert {"sqa3d/v1_balanced_questions_train_scannetv2.json",
                "sqa3d/v1_balanced_sqa_annotations_train_scannetv2.json"} <= set(files)
        # the agent's pose: as released, and in the axis-aligned frame as SQA3D's own loader
        # places it (relative to the raw mesh's bounding-box centre, then axisAlignment)
        pose = {r["id"]: r["agent_pose"] for r in rows}["220602000001"]
        assert pose["released_position"] == [3.4, 1.8, 0.0]
        assert pose["released_rotation"] == [0.0, 0.0, 0.7071, 0.7071]
        v = read_ply_vertices(SCANNET / "scans/scene0000_00/scene0000_00_vh_clean_2.ply")
        xyz = np.column_stack([v["x"], v["y"], v["z"]]).astype(np.float64)
        center = (xyz.min(axis=0) + xyz.max(axis=0)) / 2
        want = fixture.ALIGN_0000 @ np.append(np.array([3.4, 1.8, 0.0]) + center, 1.0)
        np.testing.assert_allclose(pose["position"], want[:3], atol=1e-5)
        np.testing.assert_allclose(pose["rotation"], [0, 0, 1, 0], atol=1e-4)   # 90 + 90 degrees about z
    else:
        assert source_rejects == ({"scene0003_00": "missing_scene"} if name == "nr3d" else {})
        for r in rows:
            label, center, size = EXPECTED[r["scene_id"]][r["object_ids"][0]]
            lo, hi = np.subtract(center, np.divide(size, 2)), np.add(center, np.divide(size, 2))
            np.testing.assert_allclose(r["target_box"], [*lo, *hi], atol=1e-3)
            assert r["question_type"] == "referring" and r["answer"].startswith("box: [")
        assert "scene0000_00-42-0" not in kept


@needs_steps
def test_the_card_says_which_files_the_corpus_was_built_from(cli, tmp_path):  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    res = cli("build", "scene30k", "--source", "scanrefer", "--source-dir", SCANNET, "-o", out, "--size", "50",
              "--no-progress")
    assert res.exit_code == 0, res.stderr
    res = cli("push", out, "--repo", "lab/scene30k-scanrefer", "--dry-run", tmp_path / "preview")
    assert res.exit_code == 0, res.stderr
    card = (tmp_path / "preview" / "README.md").read_text()
    digest = hashlib.sha256((SCANNET / "scanrefer/ScanRefer_filtered_train.json").read_bytes()).hexdigest()
    assert "| `scanrefer/ScanRefer_filtered_train.json` |" in card and f"`{digest}`" in card
    # scene0000 (4 scan files), scene0002 (a boxes file), scene0005 (two arrays): 7 media files
    assert "Media files (images, scans or videos): 7," in card


def test_scans_render_their_own_points_with_instance_labels():
    """A ScanNet scan is drawn as its coloured point cloud; its objects are found in the views."""
    from r1data.corpora.scene30k.render import draw_views
    from r1data.corpora.scene30k.scannet import ScanNetLayout, fallback_colors
    from r1data.corpora.scene30k.scene import Scene

    layout = ScanNetLayout(SCANNET)
    geo = layout.load("scene0000_00", max_points=50000, rng=np.random.default_rng(0))
    assert geo.point_labels is not None and geo.point_labels.shape == (len(geo.points), 2)
    assert set(np.unique(geo.point_labels[:, 0])) - {-1} == {o.id for o in geo.objects}
    assert {1, 2} <= set(np.unique(geo.point_labels[:, 1]))          # floor and wall points are marked
    scene = Scene("scene0000_00", "", (4, 3, 2.5), geo.objects, points=geo.points, source="scanqa",
                  point_labels=geo.point_labels)
    views = draw_views(scene, None, size=96, candidates=4, top_down=True, fov=60, heights=(1.6, 3.2), radius=1.5)
    assert views.top_down is not None and views.top_down.camera is None
    views.min_pixels = 5
    assert views.shown() >= {2, 3}
    # a mesh without colours: objects in their category colours, structure light grey, never black
    rgb = fallback_colors(geo.points[:, :3], geo.point_labels, {o.id: o.category for o in geo.objects})
    assert rgb.min() > 0.2 and len(np.unique(rgb, axis=0)) >= len(geo.objects)
