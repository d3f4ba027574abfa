"""omni (Omni-R1): procedural videos whose sounds ffmpeg mixed in at known times, exact masks and
boxes per keyframe (COCO RLE through pycocotools), the RefAVS and ReVOS/MeVIS readers on fixtures in
their released layouts, bad input rejected with its reason, and the rewards (System 2 through a
profile, or the offline stand-in grounder; the video family's timing terms).

Real builds (ffmpeg, decord, ffprobe), tiny sizes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def tiny_workspace(root: Path, audio: bool = True) -> Path:
    spec = yaml.safe_load((REPO / "pipelines" / "omni.yaml").read_text())
    spec["sources"]["procedural"].update(duration=20, objects=[3, 4])
    for s in spec["steps"]:
        if s["step"] == "render_av_video":
            s.update(width=96, height=72, fps=4, audio=audio)
    ws = root / "ws"
    (ws / "pipelines").mkdir(parents=True, exist_ok=True)
    (ws / "pipelines" / "omni.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return ws


@pytest.fixture(scope="module")
def omni_build(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    from r1data.engine.runner import build

    root = tmp_path_factory.mktemp("omni")
    out = root / "omni"
    build("omni", out, size=12, progress=False, workspace=tiny_workspace(root))
    return out


def audio_samples(path: Path, sr: int = 16000) -> np.ndarray:
    """The video's sound track as float samples (decoded by ffmpeg)."""
    from r1data.corpora.longvideo.render import ffmpeg_exe

    raw = subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-ar", str(sr),
                          "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, "<i2").astype(np.float32) / 32768


def test_sounds_are_in_the_audio_track_at_their_times_and_nowhere_else(omni_build: Path) -> None:
    import r1data

    rows = r1data.open_corpus(omni_build).table("train").to_pylist()
    row = rows[0]
    samples = audio_samples(omni_build / row["videos"])
    assert len(samples) / 16000 == pytest.approx(row["duration"], abs=0.2)
    rms = lambda a, b: float(np.sqrt(np.mean(samples[int(a * 16000):int(b * 16000)] ** 2)))  # noqa: E731
    events = row["sound_events"]
    assert events and all(" beeps" in e["sound"] or " hums" in e["sound"] or " whistle" in e["sound"]
                          or " hisses" in e["sound"] for e in events)
    for e in events:                                     # loud inside each sound (AAC keeps it)
        assert rms(e["start"] + 0.05, e["end"] - 0.05) > 0.05, e
    quiet = [(a["end"] + 0.2, b["start"] - 0.2) for a, b in zip(events, events[1:]) if b["start"] - a["end"] > 0.6]
    assert quiet and all(rms(a, b) < 0.01 for a, b in quiet)   # silent between them


def test_rows_have_expressions_keyframes_boxes_and_rle_masks(omni_build: Path) -> None:
    import io

    from PIL import Image

    import r1data
    from r1data.corpora.omni import masks as rle
    from r1data.corpora.omni.expressions import REFAVS_TEMPLATE
    from r1data.corpora.omni.scene import AVScript

    rows = r1data.open_corpus(omni_build).table("train").to_pylist()
    assert {r["family"] for r in rows} == {"audio", "video"}
    for r in rows:
        script = AVScript.from_json(r["event_log"])
        target = next(o.id for o in script.motion.objects if script.name(o.id) == r["reference"])
        assert r["has_audio"] and r["problem"] == r["prompt_text"].split("[", 1)[1].split("]", 1)[0]
        if r["family"] == "audio":
            assert r["problem_type"] == "refavs" and r["prompt_text"] == REFAVS_TEMPLATE.replace("[ref_prompt]", f"[{r['problem']}]")
            # the object named by its sound is the one that makes it, and every keyframe is inside one of its sounds
            calls = [(c.start, c.end(script.sounds[target])) for c in script.calls_of(target)]
            assert r["problem"].endswith(__import__("r1data.corpora.omni.scene", fromlist=["SOUNDS"]).SOUNDS[script.sounds[target]][0])
            assert all(any(s - 0.13 <= k["time"] <= e + 0.13 for s, e in calls) for k in r["keyframes"])
        else:
            assert r["problem_type"] == "video-segmentation" and "4 moments" in r["prompt_text"]
            assert f"Given a {len(r['frame_indices']) / 2} seconds video" in r["prompt_text"]
        for k in r["keyframes"]:
            (box,), (mask,) = k["boxes"], k["masks"]
            m = rle.decode(mask)
            assert m.shape == (r["height"], r["width"]) and m.any() and rle.box(m) == box
        image = Image.open(io.BytesIO(r["keyframe_image"]["bytes"] if isinstance(r["keyframe_image"], dict) else r["keyframe_image"]))
        assert image.size == (r["width"], r["height"])
        # the keyframe shows the object where its box says: its colour fills the box's middle
        x1, y1, x2, y2 = (int(v) for v in r["bbox"])
        colour = np.asarray(image.convert("RGB"))[(y1 + y2) // 2, (x1 + x2) // 2].astype(int)
        from r1data.corpora.longvideo.script import COLORS
        name = r["reference"].split()[1]
        assert np.abs(colour - np.array(COLORS[name])).max() < 60, (colour, name)
        assert any(o["name"] == r["reference"] and o["box"] == r["bbox"] for o in r["keyframe_objects"])
        assert 16 <= len(r["frame_indices"]) <= 24 and len(r["frame_boxes"]) == len(r["frame_indices"])


@pytest.mark.slow
def test_rows_do_not_depend_on_workers(tmp_path: Path, omni_build: Path) -> None:
    from r1data.engine.runner import build

    out = tmp_path / "w2"
    build("omni", out, size=12, progress=False, workspace=tiny_workspace(tmp_path), workers=2)
    name = "data/train-00000-of-00001.arrow"
    assert (out / name).read_bytes() == (omni_build / name).read_bytes()


def test_a_video_without_an_audio_track_rejects_its_audio_questions(tmp_path: Path) -> None:
    import r1data
    from r1data.engine.runner import build

    out = tmp_path / "silent"
    build("omni", out, size=4, progress=False, workspace=tiny_workspace(tmp_path, audio=False))
    corpus = r1data.open_corpus(out)
    rows = [r for s in corpus.splits for r in corpus.table(s).to_pylist()]
    assert rows and all(r["family"] == "video" and not r["has_audio"] for r in rows)
    reasons = corpus.duckdb().sql("SELECT reason, detail FROM rejects WHERE step = 'check_audio'").fetchall()
    assert reasons and all(r == "no_audio_track" and "has no audio track" in d for r, d in reasons)


# -- released layouts: RefAVS, ReVOS/MeVIS --------------------------------------------------------------

def write_refavs(root: Path) -> Path:
    """Two clips in Ref-AVS's layout: ten frames, audio.wav, per-expression masks; the second has no audio."""
    from PIL import Image

    from r1data.corpora.omni.render import write_wav

    rows = ["vid,uid,fid,exp,split"]
    for v, (vid, audio) in enumerate((("clipA", True), ("clipB", False))):
        frames = root / "media" / vid / "frames"
        frames.mkdir(parents=True)
        for i in range(10):
            img = np.full((48, 64, 3), 40, np.uint8)
            img[10:20, 5 + 3 * i:15 + 3 * i] = (220, 50, 47)          # a red box moving right
            Image.fromarray(img).save(frames / f"{i}.jpg")
            mask_dir = root / "gt_mask" / vid / "fid_1"
            mask_dir.mkdir(parents=True, exist_ok=True)
            m = np.zeros((48, 64), np.uint8)
            m[10:20, 5 + 3 * i:15 + 3 * i] = 255
            Image.fromarray(m).save(mask_dir / f"0000{i}.png")
        if audio:
            t = np.arange(16000 * 10) / 16000
            write_wav(root / "media" / vid / "audio.wav", 0.3 * np.sin(2 * np.pi * 440 * t))
        rows.append(f"{vid},{vid}_1_1,1,the red box that is playing music,train")
    rows.append("clipC,clipC_1_1,1,,train")                      # no expression
    rows.append("clipD,clipD_1_1,7,the drum,train")              # no mask folder
    rows.append("clipA,clipA_1_2,1,the red box,test")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root


def test_refavs_as_released(tmp_path: Path, cli) -> None:
    import r1data
    from r1data.corpora.omni import masks as rle

    root = write_refavs(tmp_path / "REFAVS")
    out = tmp_path / "out"
    r = cli("build", "omni", "--source", "refavs", "--source-dir", root, "-o", out, "--size", "5")
    assert r.exit_code == 0, r.stderr
    corpus = r1data.open_corpus(out)
    rows = [row for s in corpus.splits for row in corpus.table(s).to_pylist()]
    assert [row["id"] for row in rows] == ["refavs-clipA_1_1-1"]
    row = rows[0]
    assert row["family"] == "audio" and row["has_audio"] and row["problem"] == "the red box that is playing music"
    assert len(row["keyframes"]) == 4 and row["keyframes"][0]["frame_index"] == 0
    for k in row["keyframes"]:
        i = k["frame_index"]
        assert k["boxes"][0] == [5.0 + 3 * i, 10.0, 15.0 + 3 * i, 20.0]        # the PNG mask's box
        assert rle.decode(k["masks"][0]).sum() == 100
    got = dict(corpus.duckdb().sql("SELECT id, reason FROM rejects").fetchall())
    assert got == {"refavs-clipB_1_1-1": "no_audio_track", "metadata.csv:4": "missing_field",
                   "metadata.csv:5": "missing_mask"}
    bad = cli("build", "omni", "--source", "refavs", "--source-dir", root, "--source-param", "split=dev",
              "-o", tmp_path / "o2")
    assert bad.exit_code == 2 and "no split 'dev' (splits: test, train)" in bad.stderr


def write_vos(root: Path, expressions: str, masks: str, frames: str) -> Path:
    """Two videos in Sa2VA's ReVOS/MeVIS layout with COCO compressed RLE masks (pycocotools)."""
    from PIL import Image

    from r1data.corpora.omni import masks as rle

    meta: dict = {"videos": {}}
    mask_dict: dict = {}
    for v, vid in enumerate(("v0", "v1")):
        names = [f"{i:05d}" for i in range(12)]
        folder = root / frames / vid
        folder.mkdir(parents=True)
        per_frame = []
        for i, name in enumerate(names):
            img = np.full((40, 60, 3), 30, np.uint8)
            m = np.zeros((40, 60), bool)
            if i >= 3:                                  # appears at frame 3
                m[5:15, 2 * i:2 * i + 8] = True
                img[m] = (70, 180, 70)
            Image.fromarray(img).save(folder / f"{name}.jpg")
            per_frame.append(rle.encode(m) if m.any() else None)
        mask_dict[str(10 + v)] = per_frame
        meta["videos"][vid] = {"frames": list(reversed(names)),      # sorted by the reader, as revos.py does
                               "expressions": {"0": {"exp": "the green car moving right", "obj_id": [0], "anno_id": [10 + v]},
                                               "1": {"exp": "nothing", "obj_id": [], "anno_id": []},
                                               "2": {"exp": "a ghost", "obj_id": [1], "anno_id": [99]}}}
    mask_dict["11"][5] = {"size": [40, 60], "counts": 12345}        # not an RLE
    (root / expressions).parent.mkdir(parents=True, exist_ok=True)
    (root / expressions).write_text(json.dumps(meta))
    (root / masks).write_text(json.dumps(mask_dict))
    return root


@pytest.mark.parametrize("source, layout", [
    ("revos", ("meta_expressions_train_.json", "mask_dict.json", "")),
    ("mevis", ("train/meta_expressions.json", "train/mask_dict.json", "train/JPEGImages")),
])
def test_revos_and_mevis_as_released(tmp_path: Path, cli, source: str, layout: tuple) -> None:
    import r1data
    from r1data.corpora.omni import masks as rle

    root = write_vos(tmp_path / source, *layout)
    out = tmp_path / "out"
    r = cli("build", "omni", "--source", source, "--source-dir", root, "-o", out, "--size", "6")
    assert r.exit_code == 0, r.stderr
    corpus = r1data.open_corpus(out)
    rows = [row for s in corpus.splits for row in corpus.table(s).to_pylist()]
    assert [row["id"] for row in rows] == [f"{source}-v0-0"]
    row = rows[0]
    assert row["family"] == "video" and row["problem_type"] == "video-segmentation" and not row["has_audio"]
    assert len(row["keyframes"]) == 4 and all(k["frame_index"] >= 3 for k in row["keyframes"])
    for k in row["keyframes"]:
        i = k["frame_index"]
        assert k["boxes"][0] == [2.0 * i, 5.0, 2.0 * i + 8, 15.0]
        assert rle.decode(k["masks"][0]).sum() == 80
    assert [a[0] > 0 for a in row["frame_mask_area"]] == [i >= 3 for i in row["frame_indices"]]
    got = dict(corpus.duckdb().sql("SELECT id, reason FROM rejects").fetchall())
    assert got == {f"{source}-v0-1": "no_object", f"{source}-v0-2": "missing_mask", f"{source}-v1-0": "bad_mask",
                   f"{source}-v1-1": "no_object", f"{source}-v1-2": "missing_mask"}


def test_rle_decodes_both_release_forms_and_refuses_garbage() -> None:
    from r1data.corpora.omni import masks as rle

    m = np.zeros((6, 5), bool)
    m[1:4, 2:4] = True
    compressed = rle.encode(m)
    assert isinstance(compressed["counts"], str) and (rle.decode(compressed) == m).all()
    # uncompressed: column-major run lengths starting with zeros
    flat = m.flatten(order="F").astype(int)
    runs, cur, n = [], 0, 0
    for v in flat:
        if v != cur:
            runs.append(n)
            cur, n = v, 0
        n += 1
    runs.append(n)
    assert (rle.decode({"size": [6, 5], "counts": runs}) == m).all()
    for bad in ({"size": [6, 5], "counts": [1, 2]}, {"size": [6], "counts": "ab"}, {"counts": "x"}, [1, 2],
                {"size": [6, 5], "counts": 7}):
        with pytest.raises(ValueError):
            rle.decode(bad)


# -- rewards ---------------------------------------------------------------------------------------

def test_grounded_iou_with_the_stand_in_grounder(omni_build: Path) -> None:
    import r1data
    from r1data import rewards

    rows = r1data.open_corpus(omni_build).table("train").to_pylist()
    audio = [r for r in rows if r["family"] == "audio"][:2]
    video = [r for r in rows if r["family"] == "video"][:1]
    batch = audio + audio + video
    completions = [f"<think>t</think><answer>{r['reference']}</answer>" for r in audio]
    completions += ["<think>t</think><answer>the invisible unicorn</answer>", "<think>no answer tag</think>"]
    completions += ["<think>t</think><answer>whatever</answer>"]
    cols = {c: [r[c] for r in batch] for c in rewards.info("omni.grounded_iou").columns}
    values = rewards.load("omni.grounded_iou", grounder="standin")(completions=completions, **cols)
    assert values[:2] == [pytest.approx(1.0), pytest.approx(1.0)]    # the right static description
    assert values[2:4] == [0.0, 0.0]                                 # nothing grounded / an empty answer
    assert values[4] is None                                         # a video-family row
    assert "stand-in" in rewards.backends([type("U", (), {"reward": "omni.grounded_iou", "params": {}})()])["omni.grounded_iou"]


def test_grounded_iou_through_a_profile_asks_the_keyframe_and_counts_failures(omni_build: Path, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """System 2 behind a real OpenAI client (stand-in server on 127.0.0.1): the request is Omni-R1's,
    the keyframe is attached, the reply's first {...} is read, a failing server scores None (counted)."""
    import r1data
    from r1data import rewards
    from r1data.rewards.judged import counting_unscored, forget_judges
    from tests.servers import OpenAIChatServer
    from tests.test_models_eval import profile_file

    monkeypatch.setenv("R1DATA_MODEL_KEY", "sk-omni-grounder")
    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    rows = [r for r in r1data.open_corpus(omni_build).table("train").to_pylist() if r["family"] == "audio"][:2]
    box = rows[0]["bbox"]
    seen = []

    def respond(prompt: str, n_images: int) -> str:
        seen.append((prompt, n_images))
        if "the blue circle" in prompt:
            return "I cannot find it."
        return 'Sure: ```json\n{"bbox_2d": [%d, %d, %d, %d], "label": "x"}\n```' % (box[0], box[1], box[2] - 1, box[3] - 1)

    forget_judges()
    try:
        with OpenAIChatServer(respond=respond) as server:
            fn = rewards.load("omni.grounded_iou", grounder=str(profile_file(tmp_path, server)))
            cols = {c: [r[c] for r in rows] for c in rewards.info("omni.grounded_iou").columns}
            values = fn(completions=[f"<answer>{rows[0]['reference']}</answer>", "<answer>The Blue Circle</answer>"], **cols)
        assert values == [pytest.approx(1.0), 0.0]
        assert sorted(seen) == sorted([(f"Please find the bounding box of '{rows[0]['reference']}' with json format", 1),
                                       ("Please find the bounding box of 'the blue circle' with json format", 1)])
        forget_judges()
        with OpenAIChatServer(respond=respond, faults=lambda n: 500) as server:
            (tmp_path / "b").mkdir()
            fn = rewards.load("omni.grounded_iou", grounder=str(profile_file(tmp_path / "b", server)))
            with counting_unscored() as counts:
                values = fn(completions=[f"<answer>{rows[0]['reference']}!</answer>"], **{k: v[:1] for k, v in cols.items()})
        assert values == [None] and sum(counts.values()) == 1
    finally:
        forget_judges()


def test_vos_timing_terms_follow_the_released_formula() -> None:
    from r1data.rewards.omni import timing_terms, vos

    area = [[0]] * 2 + [[50]] * 8 + [[0]] * 6            # 16 sampled frames: 8 s at 2 a second
    one = '{"start_time": "00:%s", "end_time": "00:%s", "description": "the red circle"}'
    good = "<answer>" + "".join(one % (t, t) for t in ("01.00", "02.00", "03.00", "04.00")) + "</answer>"
    t = timing_terms(good, area)
    # 4 objects: 0.6 each, every frame masked (+1 each), / 4; four distinct frames: 4 x 0.4; no overlap
    assert t == {"cumulated": pytest.approx((4 * 0.6 + 4) / 4), "frame": pytest.approx(1.6), "overlap": 0.0}
    long = "<answer>" + one % ("00.00", "02.00") + one % ("01.50", "01.50") + "</answer>"
    t = timing_terms(long, area)
    # frames [0, 4] (three of five masked: 0.6) and [3] (masked: 1.0); 5 distinct; length -0.8; one shared -0.5
    assert t["cumulated"] == pytest.approx((0.6 + 0.6 + 0.6 + 1.0) / 2)
    assert t["overlap"] == pytest.approx(-0.8 - 0.5) and t["frame"] == pytest.approx((4 - 1 - 1) * 0.4)
    late = "<answer>" + one % ("09.00", "09.50") + "</answer>"                # past 16 / 2 s
    assert timing_terms(late, area) == {"cumulated": pytest.approx(0.4), "frame": 0.0, "overlap": 0.0}
    assert timing_terms("<answer>no json</answer>", area)["cumulated"] == 0.0
    assert vos(completions=[good, good], problem_type=["video-segmentation", "refavs"],
               frame_mask_area=[area, area]) == [pytest.approx(1.6 + 1.6), None]
    from r1data.errors import UsageError
    with pytest.raises(UsageError, match="SAM2"):
        vos(completions=[good], problem_type=["video-segmentation"], frame_mask_area=[area], alpha_g=2.0)


def test_report_draws_the_keyframe_box_and_the_sounds(omni_build: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    import r1data
    from r1data.registry import drawers
    from r1data.report import ANSWER
    from r1data.report.panel import _rgb
    from r1data.report.view import RowView
    from r1data.schema import RecordSchema

    corpus = r1data.open_corpus(omni_build)
    schema = RecordSchema.from_dict(corpus.manifest["schema"])
    row = next(r for r in corpus.table("train").to_pylist() if r["family"] == "audio")
    key, sounds = drawers.get("omni")(RowView(row, schema, corpus.path))
    assert (key.width, key.height) == (row["width"], row["height"])
    im = np.asarray(key.to_image())
    x1, y1, x2, y2 = (int(v) for v in row["bbox"])
    near = lambda px, color: all(abs(int(a) - int(b)) < 70 for a, b in zip(px[:3], _rgb(color)))  # noqa: E731
    assert near(im[(y1 + y2) // 2, x1], ANSWER)                                   # the target's box edge
    mine = [e for e in row["sound_events"] if e["sound"].startswith(row["reference"] + ":")]
    line = np.asarray(sounds.to_image())
    t = (mine[0]["start"] + mine[0]["end"]) / 2
    assert near(line[30, int(960 * t / row["duration"]) + 4], ANSWER)             # its sound, red (beside the keyframe tick)
    r = cli("report", omni_build, "-o", tmp_path / "omni.html")
    assert r.exit_code == 0, r.stderr
