"""scene30k end to end: build it as a user would, load it, check what a user would notice."""

from __future__ import annotations

import io
import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from r1data import open_corpus
from r1data.geometry import box3d_iou
from r1data.parsing import parse_box3d, parse_think_answer, words

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One small default build shared by the read-only tests (through the real CLI)."""
    from r1data.cli import main
    import contextlib

    out = tmp_path_factory.mktemp("s30") / "out"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["build", "scene30k", "--size", "240", "-o", str(out), "--no-progress"])
    assert code == 0
    return out, buf.getvalue()


def test_summary_says_rows_rejects_and_output(built: tuple[Path, str]) -> None:
    out, summary = built
    assert "built scene30k: 240 rows kept" in summary
    assert "rows/s" in summary and str(out) in summary
    assert "rejected: 0" in summary
    assert "manifest:" in summary


def test_loads_with_datasets_and_declared_features(built: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = built
    corpus = open_corpus(out)
    ds = corpus.to_datasets(cache_dir=str(tmp_path / "hf"))
    assert sum(d.num_rows for d in ds.values()) == 240
    assert set(ds) <= {"train", "validation", "test"} and "train" in ds
    import datasets

    feats = ds["train"].features
    assert feats["images"] == datasets.List(datasets.Image())
    assert feats["target_box"] == datasets.List(datasets.Value("float32"), length=6)
    row = ds["train"][0]
    assert isinstance(row["images"][0], Image.Image) and row["images"][0].size == (224, 224)
    assert len(row["images"]) == 5                      # the map and the 4 views kept
    assert len(row["cameras"]) == len(row["view_objects"]) == 5 and row["cameras"][0] is None
    assert np.asarray(row["cameras"][1]["intrinsic"]).shape == (3, 3)
    assert np.asarray(row["cameras"][1]["pose"]).shape == (4, 4)
    assert np.asarray(row["point_cloud"]).shape == (1024, 6)
    assert set(feats) == {f for f in yaml.safe_load((REPO / "schemas/scene30k.yaml").read_text())["fields"]}


def test_every_family_appears_and_scenes_do_not_straddle_splits(built: tuple[Path, str]) -> None:
    out, _ = built
    con = open_corpus(out).duckdb()
    families = {r[0] for r in con.execute("SELECT DISTINCT question_type FROM data").fetchall()}
    assert families == {"attribute", "counting", "existence", "relation", "situated", "referring"}
    straddling = con.execute("SELECT scene_id FROM data GROUP BY scene_id HAVING count(DISTINCT split) > 1").fetchall()
    assert straddling == []
    dupes = con.execute("SELECT count(*) FROM (SELECT scene_id, situation, question FROM data "
                        "GROUP BY ALL HAVING count(*) > 1)").fetchone()[0]
    assert dupes == 0


def test_answers_follow_from_the_stored_scene_graph(built: tuple[Path, str]) -> None:
    """Re-derive answers from the `objects` column: what a user checking the data would do."""
    out, _ = built
    rows = open_corpus(out).table().to_pylist()
    checked = {"counting": 0, "referring": 0, "attribute": 0, "existence": 0}
    for row in rows:
        parsed = parse_think_answer(row["cot"])
        assert parsed.strict and parsed.answer == row["answer"]
        assert len(words(parsed.think)) >= 30
        objects = {o["id"]: o for o in row["objects"]}
        assert set(row["object_ids"]) <= set(objects)
        qt = row["question_type"]
        if qt == "counting":
            category = row["question"].split("How many ")[1].split(" are")[0]
            n = sum(1 for o in objects.values() if _plural(o["category"]) == category)
            assert row["answer"] == str(n), row["question"]
        elif qt == "referring":
            target = objects[row["object_ids"][0]]
            c, s, yaw = target["center"], target["size"], target["yaw"]
            hx = (s[0] * abs(math.cos(yaw)) + s[1] * abs(math.sin(yaw))) / 2
            hy = (s[0] * abs(math.sin(yaw)) + s[1] * abs(math.cos(yaw))) / 2
            aabb = [c[0] - hx, c[1] - hy, c[2] - s[2] / 2, c[0] + hx, c[1] + hy, c[2] + s[2] / 2]
            # corners rounded to the centimetre, as the answer format writes them
            assert parse_box3d(row["answer"]) == pytest.approx(aabb, abs=0.0051)
            assert box3d_iou(parse_box3d(row["answer"]), aabb)[0] > 0.5
            assert row["target_box"] == pytest.approx(parse_box3d(row["answer"]), abs=1e-5)
        elif qt == "attribute":
            assert row["answer"] == objects[row["object_ids"][0]]["color"]
        elif qt == "existence":
            category = row["question"].split("Is there a")[1].split(" in the room")[0].removeprefix("n ").strip()
            present = any(o["category"] == category for o in objects.values())
            assert row["answer"] == ("yes" if present else "no")
        if qt in checked:
            checked[qt] += 1
    assert all(n > 0 for n in checked.values()), checked


def _plural(word: str) -> str:
    from r1data.corpora.scene30k.questions import plural

    return plural(word)


def test_views_show_the_stored_objects_where_the_graph_puts_them(built: tuple[Path, str]) -> None:
    """Regenerate each scene from the seed: it equals the stored graph, and in the top-down
    view the pixel at an uncovered object's centre has that object's colour."""
    from r1data.corpora.scene30k.procedural import COLORS, make_room
    from r1data.corpora.scene30k.render import scene_bounds
    from r1data.steps.base import record_rng

    out, _ = built
    corpus = open_corpus(out)
    seed = corpus.manifest["seed"]
    room_types = corpus.manifest["spec"]["source"]["params"]["room_types"]
    checked = 0
    seen: set[str] = set()
    for row in corpus.table("train").slice(0, 60).to_pylist():
        if row["scene_id"] in seen:
            continue
        seen.add(row["scene_id"])
        i = int(row["scene_id"][4:])
        rng = record_rng(seed, "source", "scene", i)
        room = room_types[int(rng.integers(len(room_types)))]
        scene = make_room(rng, row["scene_id"], room, (7, 14))
        assert np.allclose([o.to_record()["center"] for o in scene.objects],
                           [o["center"] for o in row["objects"]], atol=1e-5)
        top = np.asarray(Image.open(io.BytesIO(row["images"][0]["bytes"])).convert("RGB")).astype(int)
        x0, y0, x1, y1 = scene_bounds(scene)
        pad = 0.05 * max(x1 - x0, y1 - y0)
        scale = (top.shape[0] - 1) / (max(x1 - x0, y1 - y0) + 2 * pad)
        for o in scene.objects:
            above = [p for p in scene.objects if p.center[2] > o.center[2] and
                     abs(p.center[0] - o.center[0]) < max(p.extent[:2]) / 2 + 0.1 and
                     abs(p.center[1] - o.center[1]) < max(p.extent[:2]) / 2 + 0.1]
            if above or min(o.extent[:2]) < 0.25:
                continue
            u = int(round((o.center[0] - x0 + pad) * scale))
            v = int(round((top.shape[0] - 1) - (o.center[1] - y0 + pad) * scale))
            rgb = np.array(COLORS[o.color])
            shades = rgb[None, :] * np.linspace(0.6, 1.0, 41)[:, None]
            assert np.abs(shades - top[v, u]).sum(axis=1).min() < 8, (row["scene_id"], o.category)
            checked += 1
    assert checked >= 20


def test_situated_directions_are_egocentric() -> None:
    from r1data.corpora.scene30k.questions import egocentric
    from r1data.corpora.scene30k.scene import SceneObject

    agent, heading = np.array([0.0, 0.0]), np.array([0.0, 1.0])   # facing +y
    at = lambda x, y: SceneObject(0, "box", (x, y, 0.5), (0.2, 0.2, 0.2))  # noqa: E731
    assert egocentric(agent, heading, at(0, 2))[0] == "front"
    assert egocentric(agent, heading, at(-2, 0))[0] == "left"
    assert egocentric(agent, heading, at(2, 0))[0] == "right"
    assert egocentric(agent, heading, at(0, -2))[0] == "behind"


def _workspace_with_faults(tmp_path: Path, shard_mb: float | None = None) -> Path:
    """A workspace whose scene30k spec adds a step injecting bad records after `annotate`."""
    ws = tmp_path / "ws"
    (ws / "pipelines").mkdir(parents=True)
    (ws / "plugins").mkdir()
    spec = yaml.safe_load((REPO / "pipelines/scene30k.yaml").read_text())
    names = [s["step"] for s in spec["steps"]]
    spec["steps"].insert(names.index("annotate") + 1, {"step": "inject_faults"})
    if shard_mb:
        spec["output"]["shard_size_mb"] = shard_mb
    (ws / "pipelines" / "scene30k.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    (ws / "plugins" / "faults.py").write_text('''
from r1data.steps import step

@step("inject_faults")
def inject_faults(rows, ctx):
    """Damage a few records the way a bad annotator or a bad source would."""
    for row in rows:
        n = int(row["scene_id"][4:])
        if n % 7 == 3 and row["question_type"] == "counting":     # a wrong answer
            row["cot"] = row["cot"].replace("<answer>", "<answer>42 ")
        elif n % 11 == 5 and row["question_type"] == "attribute":  # a broken tag
            row["cot"] = row["cot"].replace("</think>", "")
        elif n % 13 == 2:                                         # a degenerate box
            row["objects"] = [dict(o, size=[0.0, 0.5, 0.5]) if i == 0 else o for i, o in enumerate(row["objects"])]
        yield row
''')
    return ws


def test_injected_bad_records_land_in_rejects_and_the_build_goes_on(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    ws = _workspace_with_faults(tmp_path)
    out = tmp_path / "out"
    result = cli("build", "scene30k", "--workspace", ws, "--size", "300", "-o", out, "--no-progress")
    assert result.exit_code == 0, result.stderr
    corpus = open_corpus(out)
    assert corpus.manifest["rows"] == 300
    rejects = corpus.rejects().to_pylist()
    reasons = {(r["step"], r["reason"]) for r in rejects}
    assert ("verify", "scene30k_answer_matches_truth") in reasons
    assert ("verify", "think_answer_format") in reasons
    assert ("verify", "scene30k_boxes_valid") in reasons
    assert "verify" in result.stdout and "scene30k_answer_matches_truth" in result.stdout
    wrong = next(r for r in rejects if r["reason"] == "scene30k_answer_matches_truth")
    assert "42" in wrong["detail"] and json.loads(wrong["record"])["id"] == wrong["id"]
    rates = corpus.manifest["verifiers"]
    assert 0 < rates["scene30k_answer_matches_truth"]["pass_rate"] < 1
    kept = {r["id"] for r in corpus.table().to_pylist()}
    assert not kept & {r["id"] for r in rejects}


@pytest.mark.slow
def test_killed_build_resumes_to_identical_rows(tmp_path: Path) -> None:
    ws = _workspace_with_faults(tmp_path, shard_mb=1.0)
    env_cmd = [sys.executable, "-m", "r1data", "build", "scene30k", "--workspace", str(ws), "--size", "1200",
               "--no-progress"]
    full = tmp_path / "full"
    subprocess.run([*env_cmd, "-o", str(full)], check=True, capture_output=True, timeout=300)
    out = tmp_path / "killed"
    proc = subprocess.Popen([*env_cmd, "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "data").glob("train-*.arrow"))) < 2:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists()
    again = subprocess.run([*env_cmd, "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    a, b = open_corpus(full), open_corpus(out)
    for split in a.splits:
        assert a.table(split).to_pylist() == b.table(split).to_pylist()
    assert a.rejects().drop_columns([]).to_pylist() == b.rejects().to_pylist()
    assert a.manifest["splits"] == b.manifest["splits"]


def test_stored_cameras_project_the_point_cloud_onto_its_colours(built: tuple[Path, str]) -> None:
    """Project each row's point cloud with its stored cameras: most points land on pixels of
    their own colour (a hue match up to shading), and far fewer do with another view's camera."""
    out, _ = built
    rows = open_corpus(out).table("train").slice(0, 24).to_pylist()

    def match_rate(row: dict, k: int, cam_rec: dict) -> float:
        img = np.asarray(Image.open(io.BytesIO(row["images"][k]["bytes"])).convert("RGB")).astype(float)
        pc = np.asarray(row["point_cloud"], dtype=float)
        K, pose = np.asarray(cam_rec["intrinsic"]), np.asarray(cam_rec["pose"])
        cam = (pc[:, :3] - pose[:3, 3]) @ pose[:3, :3]
        front = cam[:, 2] > 0.1
        uv = (cam[front] @ K.T)[:, :2] / cam[front][:, 2:3]
        u, v = np.rint(uv[:, 0]).astype(int), np.rint(uv[:, 1]).astype(int)
        inside = (u >= 1) & (u < img.shape[1] - 1) & (v >= 1) & (v < img.shape[0] - 1)
        rgb = pc[front][inside, 3:] * 255
        hits = 0
        for (x, y), c in zip(zip(u[inside], v[inside]), rgb):
            patch = img[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3)
            # the pixel is the point's colour times a light factor: compare directions
            cos = (patch @ c) / (np.linalg.norm(patch, axis=1) * np.linalg.norm(c) + 1e-9)
            scale = np.linalg.norm(patch, axis=1) / (np.linalg.norm(c) + 1e-9)
            hits += bool(((cos > 0.995) & (scale > 0.25) & (scale < 1.3)).any())
        return hits / max(int(inside.sum()), 1)

    right, wrong = [], []
    for row in rows[::4]:
        cams = row["cameras"]
        assert cams[0] is None and all(c is not None for c in cams[1:])
        for k in range(1, len(cams)):
            right.append(match_rate(row, k, cams[k]))
            wrong.append(match_rate(row, k, cams[1 + k % (len(cams) - 1)]))
    assert np.median(right) > 0.6, right
    assert np.median(right) > np.median(wrong) + 0.2, (right, wrong)


def test_views_show_the_questions_objects_and_say_where(built: tuple[Path, str]) -> None:
    out, _ = built
    for row in open_corpus(out).table("train").slice(0, 80).to_pylist():
        assert len(row["view_objects"]) == len(row["images"]) == len(row["cameras"])
        shown: set[int] = set()
        for k, objs in enumerate(row["view_objects"]):
            ids = {o["id"] for o in row["objects"]}
            for o in objs:
                assert o["id"] in ids and 0 < o["visible"] <= 1 and o["pixels"] > 0
                x1, y1, x2, y2 = o["box"]
                assert 0 <= x1 < x2 <= 224 and 0 <= y1 < y2 <= 224
                if k > 0 and o["pixels"] >= 20:
                    shown.add(o["id"])
        assert set(row["object_ids"]) <= shown, (row["question"], row["object_ids"], shown)


def test_view_selection_keeps_the_best_views_and_rejects_what_no_view_shows() -> None:
    from r1data.corpora.scene30k.render import View, Views
    from r1data.corpora.scene30k.views import choose_views, select_views
    from r1data.steps.base import Reject, StepContext

    def view(shows: dict[int, float]) -> View:
        return View(b"png", {"intrinsic": [], "pose": []},
                    [{"id": i, "pixels": 100 if f else 0, "visible": f, "box": None} for i, f in shows.items()])

    cands = [view({0: 0.9, 1: 0.0, 2: 0.5}), view({0: 0.1, 1: 0.0, 2: 0.9}), view({0: 0.0, 1: 0.3, 2: 0.0}),
             view({0: 0.95, 1: 0.0, 2: 0.9})]
    kept, missing = choose_views(cands, [0], 3, 2, 20, {"text": 0.6, "coverage": 0.4})
    assert kept == [3, 0] and missing == []
    kept, _ = choose_views(cands, [0, 1], 3, 2, 20, {"text": 0.6, "coverage": 0.4})
    assert 2 in kept                       # the only view of object 1 gets a place
    ctx = StepContext(seed=1, corpus="scene30k", step="select_views")
    rows = [{"id": "a", "question": "q", "object_ids": [0], "objects": [{}] * 3, "_views": Views(None, cands)},
            {"id": "b", "question": "q", "object_ids": [7], "objects": [{}] * 3, "_views": Views(None, cands)}]
    out = list(select_views(rows, ctx, views=2))
    assert out[0]["cameras"] == [cands[3].camera, cands[0].camera] and len(out[0]["images"]) == 2
    assert isinstance(out[1], Reject) and out[1].reason == "objects_not_visible"


def test_a_degenerate_box_is_a_reject_not_a_crash() -> None:
    from r1data.corpora.scene30k.render import render_views
    from r1data.corpora.scene30k.scene import Scene, SceneObject
    from r1data.steps.base import Reject, StepContext

    objs = [SceneObject(0, "table", (1.0, 1.0, 0.4), (1.0, 0.8, 0.8)),
            SceneObject(1, "chair", (float("nan"), 1.0, 0.4), (0.5, 0.5, 0.9)),
            SceneObject(2, "box", (2.0, 2.0, 0.1), (0.0, 0.3, 0.2))]          # zero size: drawn 1 cm thin
    ctx = StepContext(seed=1, corpus="scene30k", step="render_views")
    bad = Scene("x", "office", (3.0, 3.0, 2.6), objs)
    good = Scene("y", "office", (3.0, 3.0, 2.6), [objs[0], objs[2]])
    out = list(render_views([{"id": "x", "scene": bad}, {"id": "y", "scene": good}], ctx, candidates=4))
    assert isinstance(out[0], Reject) and out[0].reason == "degenerate_box" and "object 1" in out[0].detail
    views = out[1]["_views"]
    assert len(views.candidates) == 4 and 0 in views.shown()
    for v in views.candidates:
        img = np.asarray(Image.open(io.BytesIO(v.png)))
        assert img.std() > 10                                             # not a blank image


def test_clip_scoring_is_skipped_gracefully_without_transformers_or_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from r1data.corpora.scene30k import views as views_mod
    from r1data.corpora.scene30k.render import View, Views
    from r1data.steps.base import StepContext

    real_import = builtins.__import__

    def no_transformers(name, *a, **k):  # type: ignore[no-untyped-def]
        if name == "transformers" or name.startswith("transformers."):
            raise ImportError("No module named 'transformers'", name="transformers")
        return real_import(name, *a, **k)

    cands = [View(b"a", {"pose": 1}, [{"id": 0, "pixels": 50, "visible": 0.5, "box": None}])]
    for clip, blocked in (({"model": "/nonexistent"}, False), (True, True)):
        monkeypatch.setattr(views_mod, "_SCORERS", {})
        monkeypatch.setattr(builtins, "__import__", no_transformers if blocked else real_import)
        ctx = StepContext(seed=1, corpus="scene30k", step="select_views")
        out = list(views_mod.select_views([{"id": "r", "question": "q", "object_ids": [0], "objects": [{}],
                                            "_views": Views(None, cands)}], ctx, views=1, clip=clip))
        assert out[0]["cameras"] == [{"pose": 1}]
        assert ctx.stats.to_dict()["counters"]["views_clip_skipped"] == 1
