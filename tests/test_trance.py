"""TRANCE for STAR-R1: the procedural build, TRANCE's rules, the released layout, eval and review."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from r1data import open_corpus
from r1data.corpora.trance import world
from r1data.corpora.trance.generate import initial_state, sample_transformations
from r1data.rewards import load

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, list[dict]]:
    from r1data import build

    out = tmp_path_factory.mktemp("trance") / "out"
    build("trance", out, size=3, progress=False)      # one sample: its center, left and right rows
    corpus = open_corpus(out)
    rows = [{**r, "split": split} for split in corpus.splits for r in corpus.table(split).to_pylist()]
    return out, rows


def _state(rows: list[dict]) -> list[dict]:
    return [{k: o[k] for k in ("shape", "size", "color", "material", "position")} for o in rows]


# -- the build ---------------------------------------------------------------------------------

def test_rows_hold_two_images_the_objects_and_transformations_that_replay(built) -> None:  # type: ignore[no-untyped-def]
    out, rows = built
    assert len(rows) == 3
    by_sample: dict[str, list[dict]] = {}
    for r in rows:
        by_sample.setdefault(r["sample_id"], []).append(r)
    for views in by_sample.values():
        assert sorted(r["final_view"] for r in views) == ["center", "left", "right"]
        assert len({r["split"] for r in views}) == 1                       # a sample never straddles splits
        assert len({r["images"][0]["bytes"] for r in views}) == 1          # one initial image, three final ones
        assert len({r["images"][1]["bytes"] for r in views}) == 3
    for r in rows:
        initial, final = (Image.open(io.BytesIO(im["bytes"])) for im in r["images"])
        assert initial.size == final.size == (320, 240) and initial.format == "PNG"
        seq = json.loads(r["transformations"])
        assert 1 <= len(seq) == r["n_transformations"] <= 4
        assert r["setting"] == ("view" if r["final_view"] != "center" else "basic" if len(seq) == 1 else "event")
        state, problems = world.replay(_state(r["objects"]), seq)
        assert problems == [] and world.same_state(state, _state(r["final_objects"])) == []
        assert r["answer"].splitlines() == [world.format_item(t) for t in seq]
        # the table in the question is the initial state, every object with its index
        assert all(f"\n{o['index']} | {o['shape']} | {o['size']} |" in r["question"] for o in r["objects"])
        assert len(r["cameras"]) == 2 and len(r["cameras"][1]["pose"]) == 4
    solutions = [r["solution"] for r in rows]
    truths = [r["transformations"] for r in rows]
    assert load("star.accuracy")(completions=solutions, transformations=truths) == \
        [5.0 * r["n_transformations"] for r in rows]
    manifest = json.loads((out / "manifest.json").read_text())
    assert all(v["pass_rate"] == 1.0 for v in manifest["verifiers"].values())     # every check passed


def test_an_object_moved_out_of_view_lists_every_move_out_of_view() -> None:
    assert world.out_options([0, 15]) == [["right", 1], ["right", 2], ["behind-right", 1], ["behind-right", 2],
                                          ["front-right", 1], ["front-right", 2]]
    assert world.out_options([0, 5]) == [["right", 2], ["behind-right", 2], ["front-right", 2]]
    assert world.out_options([0, 0]) == []               # two steps from the centre end at the edge, in view
    assert world.move_type([0, 15], [0, 25]) == "out" and world.move_type([0, 25], [0, 15]) == "in"


def test_sampled_transformations_keep_trances_rules() -> None:
    rng = np.random.default_rng(3)
    for _ in range(40):
        state = initial_state(rng, 10, int(rng.integers(1, 11)))
        assert state is not None
        for i in range(len(state)):
            assert not world.overlaps(state, i)
        shown = {i for i, o in enumerate(state) if world.is_visible(o["position"])}
        seq = sample_transformations(rng, state, 4, shown)
        if seq is None:
            continue
        final, problems = world.replay(state, seq)
        assert problems == []                                          # no no-op, no overlap, on the grid
        assert len({(t["obj_idx"], t["attr"]) for t in seq}) == len(seq)
        for t in seq:
            assert t["val"] in t["options"]
            if t["attr"] != "position" or t["type"] == "in":
                assert t["obj_idx"] in shown or t.get("type") == "in"
            if t.get("type") == "in":
                assert t["obj_idx"] not in shown


def test_replay_names_what_is_wrong() -> None:
    state = [{"shape": "cube", "size": "large", "color": "red", "material": "metal", "position": [0, 0]},
             {"shape": "sphere", "size": "small", "color": "blue", "material": "rubber", "position": [0, 12]}]
    with pytest.raises(world.TransformationError, match="missing_object: obj_idx 5 refers to no object"):
        world.replay(state, [{"obj_idx": 5, "attr": "color", "val": "red"}])
    _, problems = world.replay(state, [{"obj_idx": 0, "attr": "color", "val": "red"}])
    assert problems[0].startswith("no_op")
    _, problems = world.replay(state, [{"obj_idx": 1, "attr": "size", "val": "large"}])
    assert problems[0].startswith("overlap")       # 12 * 0.15 = 1.8 < 0.9 + 0.9 + 0.15
    with pytest.raises(world.TransformationError, match="bad_value"):
        world.replay(state, [{"obj_idx": 0, "attr": "position", "val": ["up", 1]}])


@pytest.mark.slow
def test_rows_are_the_same_whatever_the_workers_and_a_rerun_does_nothing(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    from tests.toyws import digest

    outs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        r = cli("build", "trance", "--size", "6", "-o", out, "--workers", str(workers), "--no-progress")
        assert r.exit_code == 0, r.stderr
        outs.append(out)
    assert digest(outs[0]) == digest(outs[1])
    r = cli("build", "trance", "--size", "6", "-o", outs[0], "--no-progress")
    assert r.exit_code == 0 and digest(outs[0]) == digest(outs[1])


# -- the released layout -----------------------------------------------------------------------

def _png(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), color).save(buf, format="PNG")
    return buf.getvalue()


OBJECTS = [{"color": "gray", "material": "metal", "shape": "cylinder", "size": "small", "position": [-19, 37]},
           {"color": "yellow", "material": "glass", "shape": "cube", "size": "small", "position": [0, -14]},
           {"color": "blue", "material": "metal", "shape": "cylinder", "size": "large", "position": [-18, -2]}]


def _sample(idx: int, transformations: list[dict], final: list[dict] | None = None) -> dict:
    """A sample as TRANCE releases it (src/demo/ui/src/assets/example.json's shape)."""
    stem = f"TRANCE_standard_img_{idx:06d}"
    return {"idx": idx,
            "states": [{"objects": OBJECTS, "images": {"Camera_Center": f"{stem}-initial.Camera_Center.png"}},
                       {"objects": final if final is not None else OBJECTS,
                        "images": {f"Camera_{v}": f"{stem}-final.Camera_{v}.png" for v in ("Left", "Center", "Right")}}],
            "transformations": transformations}


def release_folder(root: Path) -> Path:
    (root / "image").mkdir(parents=True)
    final = json.loads(json.dumps(OBJECTS))
    final[1]["color"] = "cyan"
    final[1]["position"] = [10, -14]
    good = _sample(0, [{"obj_idx": 1, "attr": "color", "val": "cyan", "options": ["cyan"]},
                       {"obj_idx": 1, "attr": "position", "val": ["behind", 1], "options": [["behind", 1]],
                        "type": "inner"}], final)
    basic_final = json.loads(json.dumps(OBJECTS))
    basic_final[2]["material"] = "rubber"
    basic = _sample(1, [{"obj_idx": 2, "attr": "material", "val": "rubber", "options": ["rubber"]}], basic_final)
    missing = _sample(2, [{"obj_idx": 7, "attr": "color", "val": "red", "options": ["red"]}])
    no_image = _sample(3, [{"obj_idx": 2, "attr": "material", "val": "rubber", "options": ["rubber"]}], basic_final)
    lines = [json.dumps(good), json.dumps(basic), json.dumps(missing), "{not json", json.dumps(no_image)]
    (root / "data.jsonl").write_text("\n".join(lines) + "\n")
    for sample in (good, basic):
        for state in sample["states"]:
            for name in state["images"].values():
                (root / "image" / name).write_bytes(_png((100, 100, 100)))
    (root / "image" / no_image["states"][0]["images"]["Camera_Center"]).write_bytes(_png((1, 2, 3)))
    return root


def test_release_rows_and_rejects_name_the_line_and_reason(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    src = release_folder(tmp_path / "trance")
    out = tmp_path / "out"
    r = cli("build", "trance", "--source", "release", "--source-dir", src, "-o", out, "--no-progress")
    assert r.exit_code == 0, r.stderr
    corpus = open_corpus(out)
    rows = {r["id"]: {**r, "split": split} for split in corpus.splits for r in corpus.table(split).to_pylist()}
    assert sorted(rows) == ["trance-0-C", "trance-0-L", "trance-0-R", "trance-1-C", "trance-1-L", "trance-1-R"]
    assert rows["trance-1-C"]["setting"] == "basic" and rows["trance-0-C"]["setting"] == "event"
    assert rows["trance-0-L"]["setting"] == "view" and rows["trance-0-C"]["source"] == "trance"
    assert rows["trance-0-C"]["answer"] == "1.color.cyan\n1.position.behind.1"
    assert all(r["split"] == "train" for r in rows.values())                # the first 500,000 lines
    rejects = {r["id"]: (r["reason"], r["detail"]) for r in corpus.duckdb().sql(
        "SELECT id, reason, detail FROM rejects").to_arrow_table().to_pylist()}
    assert rejects["trance-2"][0] == "missing_object"
    assert "data.jsonl:3" in rejects["trance-2"][1] and "obj_idx 7 refers to no object" in rejects["trance-2"][1]
    assert any(reason == "bad_json" and "data.jsonl:4" in detail for reason, detail in rejects.values())
    assert rejects["trance-3-C"][0] == "missing_image"
    files = json.loads((out / "manifest.json").read_text())["source_files"]["files"]
    # the two good samples' 8 images and the initial image of the one whose final images are missing
    assert any(f["path"] == "data.jsonl" for f in files) and sum(f["path"].startswith("image/") for f in files) == 9


def test_release_settings_and_the_generators_own_files(tmp_path: Path) -> None:
    from r1data.corpora.trance.release import TranceRelease
    from r1data.steps.base import Reject, StepContext

    src = release_folder(tmp_path / "trance")
    ctx = StepContext(seed=1, corpus="trance", step="source")
    basic = [r for r in TranceRelease(ctx, dir=str(src), setting="basic").read() if not isinstance(r, Reject)]
    assert [r["id"] for r in basic] == ["trance-1-C", "trance-3-C"]      # samples with one transformation
    view = [r["id"] for r in TranceRelease(ctx, dir=str(src), setting="view").read(start=2)
            if not isinstance(r, Reject)]
    assert view[:4] == ["trance-0-R", "trance-1-C", "trance-1-L", "trance-1-R"]     # resumed at item 2
    # the generator's own info/*.json files carry `target` where the release has `val`
    info = tmp_path / "gen" / "info"
    info.mkdir(parents=True)
    sample = json.loads((src / "data.jsonl").read_text().splitlines()[1])
    sample["transformations"] = [{"obj_idx": 2, "attr": "material", "target": "rubber", "pair": "material.rubber",
                                  "old": "metal", "new": "rubber", "options": []}]
    (info / "TRANCE_standard_000001.json").write_text(json.dumps(sample))
    rows = list(TranceRelease(ctx, dir=str(tmp_path / "gen"), setting="event").read())
    assert rows[0]["transformations"] == [{"obj_idx": 2, "attr": "material", "val": "rubber", "options": ["rubber"]}]


def test_a_folder_without_the_release_is_one_line(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("build", "trance", "--source", "release", "--source-dir", tmp_path, "-o", tmp_path / "out",
            "--no-progress")
    assert r.exit_code == 2 and "no data.jsonl and no info/*.json" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


# -- eval and review ---------------------------------------------------------------------------

def test_eval_scores_answers_with_stars_rewards_and_tvrs_metrics(built, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    out, rows = built
    preds = tmp_path / "preds.jsonl"
    wrong = "<think>nothing changed</think><answer></answer>"
    with preds.open("w") as f:
        for k, r in enumerate(rows):
            f.write(json.dumps({"id": r["id"], "completion": r["solution"] if k % 2 == 0 else wrong}) + "\n")
    r = cli("eval", "trance", "--data", out, "--predictions", preds, "--json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    n = {r["id"]: r["n_transformations"] for r in rows}
    right = [n[r["id"]] for k, r in enumerate(rows) if k % 2 == 0]
    # star.total: full marks + format for the right half, format - empty penalty for the rest
    want = (sum(5.0 * m + 1.0 for m in right) + (len(rows) - len(right)) * (1.0 - 1.0)) / len(rows)
    assert report["rewards"]["star.total"]["mean"] == pytest.approx(want)
    assert report["rewards"]["star.exact"]["mean"] == pytest.approx(len(right) / len(rows))
    metrics = report["metrics"]
    assert metrics["acc"] == pytest.approx(len(right) / len(rows)) and metrics["loose_acc"] == metrics["acc"]
    assert metrics["avg_step_diff"] == pytest.approx(-sum(m for k, m in enumerate(n.values()) if k % 2) / len(rows))


def test_metrics_replay_the_predicted_transformations() -> None:
    from r1data.rewards.star import metrics

    initial = [{"shape": "cube", "size": "small", "color": "red", "material": "metal", "position": [0, 10]},
               {"shape": "sphere", "size": "small", "color": "blue", "material": "rubber", "position": [10, -10]}]
    final = json.loads(json.dumps(initial))
    final[0]["position"] = [0, 30]                     # moved out of view to the right
    truth = [{"obj_idx": 0, "attr": "position", "val": ["right", 2], "options": [["right", 2], ["behind-right", 2]],
              "type": "out"}]

    def ta(answer: str) -> str:
        return f"<think>t</think><answer>{answer}</answer>"
    # another move that also leaves the view is right too (TVR: both out of view)
    out = metrics([ta("0.position.right.2"), ta("0.position.behind-right.2"), ta("0.position.left.1"),
                   ta("0.color.green")],
                  {"transformations": [truth] * 4, "objects": [initial] * 4, "final_objects": [final] * 4,
                   "setting": ["basic"] * 4, "final_view": ["center"] * 4})
    assert out["loose_acc"] == out["acc"] == 0.5 and out["exact"] == 0.5
    assert out["basic/acc_obj"] == 1.0 and out["basic/acc_attr"] == 0.75 and out["basic/acc_pair"] == 0.5
    assert out["avg_dist"] == 0.75 and out["center/acc"] == 0.5    # 0 + 0 + 1 (position) + 2 (colour, position)


@pytest.mark.slow
def test_every_row_renders_in_review_push(built) -> None:  # type: ignore[no-untyped-def]
    from r1data.review.layout import config_controls
    from r1data.review.media import Media
    from r1data.review.push import TaskBuilder, corpus_layout

    out, rows = built
    corpus = open_corpus(out)
    layout = corpus_layout(corpus)
    controls = config_controls(layout.label_config())
    assert {("Image", "images_0"), ("Image", "images_1"), ("TextArea", "question"), ("TextArea", "answer"),
            ("TextArea", "solution")} <= controls
    builder = TaskBuilder(layout, Media("trance", out), "v")
    for row in rows:
        task = builder.task(row)
        assert task["data"]["images_0"].startswith("data:image/png;base64,")
        assert task["data"]["images_1"].startswith("data:image/png;base64,")
        texts = {r["from_name"]: r["value"]["text"] for r in task["predictions"][0]["result"]}
        assert texts["answer"] == [row["answer"]]


def test_report_draws_both_images_with_the_transformed_objects_marked(built, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    from r1data.registry import drawers, load_builtins
    from r1data.report import ANSWER
    from r1data.report.view import RowView
    from r1data.schema import RecordSchema

    out, rows = built
    r = cli("report", out, "-o", tmp_path / "report.html", "--samples", "3")
    assert r.exit_code == 0, r.stderr
    assert "3 rows drawn" in r.stdout and "Transformed attributes" in (tmp_path / "report.html").read_text()
    load_builtins()
    schema = RecordSchema.from_dict(json.loads((out / "manifest.json").read_text())["schema"])
    row = next(r for r in rows if r["final_view"] == "center")
    initial, final = drawers.get("trance")(RowView(row, schema, out))
    changed = {t["obj_idx"] for t in json.loads(row["transformations"])}
    shown_changed = {o["index"] for o in row["objects"] if o["visible"] and o["index"] in changed}
    red = [s for s in initial.shapes if s.kind == "circle" and s.color == ANSWER]
    assert len(red) == len(shown_changed) and (initial.width, initial.height) == (320, 240)
    assert all(0 <= s.points[0][0] < 320 and 0 <= s.points[0][1] < 240 for s in initial.shapes)
