"""Each corpus's drawer puts what a row says where it says, checked on the drawn pixels (rows
made here, in each schema's own fields)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from r1data.registry import drawers
from r1data.report import ANSWER, TARGET
from r1data.report.panel import _rgb
from r1data.report.view import RowView
from r1data.schema import load_schema

REPO = Path(__file__).resolve().parents[1]


def _png(w: int, h: int, color: str = "#000000", mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (w, h), color if mode == "RGB" else 0).save(buf, format="PNG")
    return buf.getvalue()


def _view(corpus: str, row: dict, corpus_dir: Path | None = None) -> RowView:
    return RowView(row, load_schema(REPO / "schemas" / f"{corpus}.yaml"), corpus_dir)


def _draw(corpus: str, row: dict, corpus_dir: Path | None = None) -> list:
    return drawers.get(corpus)(_view(corpus, row, corpus_dir))


def _near(pixel: np.ndarray, color: str, tol: int = 60) -> bool:
    return all(abs(int(a) - int(b)) <= tol for a, b in zip(pixel[:3], _rgb(color)))


def _any_near(im: np.ndarray, ys: slice, xs: slice, color: str, tol: int = 60) -> bool:
    patch = im[ys, xs].reshape(-1, 3).astype(int)
    return bool((np.abs(patch - np.asarray(_rgb(color))) <= tol).all(axis=1).any())


def test_every_shipped_corpus_has_a_drawer():
    for corpus in ("earthreason", "embodied_points", "embodied_spatial", "got", "gui", "longvideo", "scene30k",
                   "trance", "vqa_verify", "xiangqi"):
        assert corpus in drawers, corpus


def test_scene30k_projects_the_3d_box_through_the_stored_camera():
    from r1data.corpora.scene30k.draw import object_corners, project_box_edges
    from r1data.render3d.camera import Camera

    cam = Camera.looking_at([3.0, 0.0, 1.5], [0.0, 0.0, 0.5], 224, 224)
    obj = {"id": 0, "category": "table", "color": "red", "center": [0.0, 0.0, 0.5], "size": [1.0, 0.6, 1.0],
           "yaw": 0.3}
    corners = object_corners(obj)
    uv, depth = cam.project(corners)
    assert (depth > 0).all()
    row = {"id": "s-0", "objects": [obj], "object_ids": [0], "images": [{"bytes": _png(224, 224)}],
           "cameras": [cam.to_record()], "view_objects": [[{"id": 0, "pixels": 900, "visible": 1.0,
                                                             "box": [0, 0, 10, 10]}]],
           "width": 224, "height": 224, "target_box": None}
    im = np.asarray(_draw("scene30k", row)[0].to_image())
    for u, v in uv:                          # every projected corner is on a red edge
        x, y = int(round(u)), int(round(v))
        assert _any_near(im, slice(max(0, y - 2), y + 3), slice(max(0, x - 2), x + 3), ANSWER), (u, v)
    assert _near(im[2, 2], "#000000")
    # a box around the camera: its back face (behind the camera) is left out, the four edges
    # crossing the near plane are cut where they cross, the front face is whole
    around = object_corners({"center": [3.0, 0.0, 1.5], "size": [1.0, 1.0, 1.0], "yaw": 0.0})
    edges = np.asarray(project_box_edges(cam, around))
    assert edges.shape == (8, 2, 2) and np.isfinite(edges).all()
    # and one wholly behind it draws nothing
    assert project_box_edges(cam, corners + np.array([8.0, 0.0, 1.0])) == []


def test_xiangqi_arrows_the_move_from_its_square_to_its_square():
    from r1data.corpora.xiangqi.board import START_FEN
    from r1data.corpora.xiangqi.draw import square_xy

    row = {"id": "g-0", "fen": START_FEN, "move": "h2e2", "best_move": "h2e2", "side_to_move": "red", "ply": 0}
    p = _draw("xiangqi", row)[0]
    im = np.asarray(p.to_image())
    (x0, y0), (x1, y1) = square_xy(7, 2), square_xy(4, 2)
    assert (x0, y0) == (310, 310) and (x1, y1) == (190, 310)
    mid = int((x0 + x1) / 2)
    assert _any_near(im, slice(y0 - 2, y0 + 3), slice(mid - 2, mid + 3), ANSWER)
    # the red general sits on e0, the black one on e9
    labels = [s.label for s in p.shapes if s.kind == "circle"]
    assert "red K on e0" in labels and "black K on e9" in labels


def test_earthreason_overlays_the_mask_where_it_is():
    mask = np.zeros((100, 120), dtype=np.uint8)
    mask[20:60, 30:90] = 255
    buf = io.BytesIO()
    Image.fromarray(mask).save(buf, format="PNG")
    row = {"id": "a-0", "image": {"bytes": _png(120, 100)}, "width": 120, "height": 100, "mask": buf.getvalue(),
           "empty": False, "target_class": "water", "mask_area": int((mask > 0).sum())}
    im = np.asarray(_draw("earthreason", row)[0].to_image()).astype(int)
    assert im[40, 60, 0] > 80 and im[40, 60, 1] < 40        # red inside
    assert (im[5, 5] == 0).all() and (im[80, 100] == 0).all()  # untouched outside


def test_embodied_points_marks_the_points_and_boxes_of_the_row():
    row = {"id": "e-0", "images": [{"bytes": _png(640, 480)}], "width": 640, "height": 480, "ability": "VTG",
           "points": [[100.0, 100.0], [300.0, 200.0], [500.0, 300.0]], "target_box": [450, 250, 550, 350],
           "object_box": [80, 80, 120, 120], "answer": '<type>fsd_visual_trace</type>{"trajectory": '
                                                    '[[100, 100], [300, 200], [500, 300]]}'}
    im = np.asarray(_draw("embodied_points", row)[0].to_image())
    for x, y in row["points"]:
        assert _near(im[int(y), int(x)], ANSWER), (x, y)
    assert _any_near(im, slice(290, 310), slice(449, 452), TARGET)      # the target box's left edge


def test_gui_scales_the_completions_call_from_the_resized_frame():
    row = {"id": "g-0", "image": {"bytes": _png(1280, 800)}, "width": 1280, "height": 800, "resized_width": 1288,
           "resized_height": 812, "target_box": [200, 692, 1080, 752], "point": [640, 722],
           "gt_action": '{"action": "click", "coordinate": [640, 722]}', "action": "{}", "task": "low",
           "solution": '<think>x</think><tool_call>{"name": "mobile_use", "arguments": {"action": "click", '
                       '"coordinate": [644, 733]}}</tool_call>'}
    p = _draw("gui", row)[0]
    ring = next(s for s in p.shapes if s.kind == "circle" and s.color == TARGET)
    x, y = ring.points[0]
    assert abs(x - 644 * 1280 / 1288) < 1e-6 and abs(y - 733 * 800 / 812) < 1e-6
    assert abs(x - 640) < 1.5 and abs(y - 722) < 1.5       # on the ground truth's point
    im = np.asarray(p.to_image())
    assert _near(im[722, 201], ANSWER)                      # the target box's left edge


def test_longvideo_marks_the_intervals_the_reasons_cite(tmp_path):
    from r1data.corpora.longvideo.draw import TIMELINE, clue_intervals, strip_times

    reasons = "##### From 0:01:40 to 0:01:50:\n- a\n##### From 0:00:10 to 0:00:20:\n- b\n"
    assert clue_intervals(reasons) == [(100.0, 110.0), (10.0, 20.0)]
    times = strip_times(180.0, clue_intervals(reasons))
    assert 105.0 in times and 15.0 in times and len(times) == 8 and times == sorted(times)
    row = {"id": "lv-0", "videos": "videos/missing.mp4", "video_duration": 180.0, "video_fps": 8.0,
           "timestamped_reasons": reasons, "clips": [{"start": 0.0, "end": 90.0}, {"start": 90.0, "end": 180.0}],
           "answer": "<answer>B</answer>", "problem_type": "temporal"}
    panels = _draw("longvideo", row, tmp_path)
    assert len(panels) == 1 and "frames not drawn: the video is not there" in panels[0].caption
    im = np.asarray(panels[0].to_image())
    x = int(TIMELINE[0] * 105 / 180)                        # the middle of 1:40-1:50
    assert _any_near(im, slice(14, 20), slice(x - 3, x + 4), ANSWER)


def test_the_generic_drawer_draws_in_the_declared_frame(tmp_path):
    """A corpus with no drawer: its box in 0-1000 lands at the right pixels."""
    from r1data.report.generic import draw_generic

    path = tmp_path / "s.yaml"
    path.write_text("name: s\nfields:\n  id: string\n  image: {type: image, size: [w, h]}\n  w: int32\n  h: int32\n"
                    "  box: {type: box2d, frame: {image: image, units: '0-1000'}}\n")
    row = RowView({"id": "x", "image": {"bytes": _png(200, 100)}, "w": 200, "h": 100, "box": [250, 200, 750, 800]},
                  load_schema(path))
    im = np.asarray(draw_generic(row)[0].to_image())
    assert _any_near(im, slice(45, 55), slice(49, 52), "#ff2d55")     # left edge at x = 50
    assert (im[50, 100] == 0).all()                                       # inside: untouched


def test_a_rejected_record_is_drawn_grey_at_its_declared_size():
    """The rejects table keeps an image's size, not its bytes: the panel is a grey placeholder of
    that size with the boxes still on it."""
    row = {"id": "r-0", "image": {"bytes": 12345, "sha256": "ab"}, "width": 512, "height": 384,
           "bboxs": [[10, 10, 100, 100]], "objects": [], "solution": ""}
    view = RowView(row, load_schema(REPO / "schemas" / "vqa_verify.yaml"),
                   reject={"step": "verify", "reason": "x", "detail": ""})
    p = drawers.get("vqa_verify")(view)[0]
    assert p.placeholder and (p.width, p.height) == (512, 384)
    assert _near(np.asarray(p.to_image())[50, 10], ANSWER)
