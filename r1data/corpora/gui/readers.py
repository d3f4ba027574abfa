"""Real sources of ``gui``, each as its authors publish it (docs/gui.md says what was verified).

* ``android_control``: google-research's AndroidControl, ``android_control-*-of-*`` GZIP TFRecords
  of ``tf.train.Example`` episodes (episode_id, goal, screenshots, accessibility_trees,
  screenshot_widths / heights, actions as JSON, step_instructions), with ``splits.json``
  (``{"train": [ids], "validation": [...], "test": [...]}``). Actions become InfiGUI-R1's
  (``click``/``long_press`` with the tree's boxes under the point as ``candidate_bbox``,
  ``scroll`` -> ``swipe``, ``open_app`` -> ``open``, ``input_text``/``type`` -> ``type``,
  ``navigate_back``/``home`` -> ``system_button``, ``wait``).
* ``android_control_json``: InfiGUI-R1's processed AndroidControl (``android_control_test.json``
  from ``Reallm-Labs/android_control_test``; its train counterpart has the same fields): a JSON
  list of episodes with ``width``, ``height``, ``episode`` {``episode_id``, ``goal``,
  ``step_instructions``, ``screenshot_paths``}, ``step_pams`` and ``step_check_pams``; the
  screenshots are files under the folder, by ``screenshot_paths``.
* ``screenspot``: ScreenSpot (SeeClick) / ScreenSpot-v2 (OS-Atlas): ``screenspot_{mobile,
  desktop,web}[_v2].json``, lists of ``{img_filename, bbox: [x, y, w, h], instruction,
  data_type, data_source}``, images in ``screenspot_imgs/`` (v1) or ``screenspotv2_image/`` (v2).

Rows come out finished (the ``gui_episodes`` step passes them through); a bad record is a
``Reject`` with its reason: ``missing_image``, ``corrupt_image``, ``image_size_mismatch``,
``point_off_screen``, ``empty_box``, ``box_outside_image``, ``bad_episode``, ``unknown_action``,
``bad_record``, ``truncated_file``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from r1data.corpora.gui.actions import Action, int_box, swipe_between
from r1data.corpora.gui.browser import Capture
from r1data.corpora.gui.episodes import LEVELS
from r1data.corpora.gui.rows import Episode, Record, grounding_row, step_rows
from r1data.corpora.gui.tfrecord import TFRecordError, parse_example, parse_forest, read_tfrecords
from r1data.corpora.vqa_verify.imagefiles import decode_image, read_image
from r1data.errors import UsageError
from r1data.steps.base import RecordError, Reject, Source, StepContext, source

ROLES = {"EditText": "input", "Button": "button", "ImageButton": "icon", "ImageView": "icon", "Switch": "toggle_row",
         "CheckBox": "check_row", "RadioButton": "radio_row", "TextView": "text", "Tab": "tab"}


class BadRecord(RecordError):
    """A record of a real source that cannot become a row."""


def _levels(levels: list[str] | None) -> list[str]:
    levels = list(levels or LEVELS)
    if set(levels) - set(LEVELS):
        raise UsageError(f"levels must be among {', '.join(LEVELS)}, got {levels}")
    return levels


def _role(class_name: str) -> str:
    short = class_name.rsplit(".", 1)[-1]
    return next((r for k, r in ROLES.items() if k in short), "element")


def tree_elements(nodes: list[dict], width: int, height: int) -> list[dict]:
    """Visible nodes a user can act on or read, as row elements (boxes clipped to the screen)."""
    out = []
    for n in nodes:
        l, t, r, b = n["bounds"]
        l, t, r, b = max(0, l), max(0, t), min(width, r), min(height, b)
        label = n["text"] or n["content_description"] or n["hint_text"] or n["view_id_resource_name"].rsplit("/", 1)[-1]
        if r - l < 1 or b - t < 1 or not n["is_visible_to_user"] or not (label or n["is_clickable"]):
            continue
        role = "scroll" if n["is_scrollable"] else ("input" if n["is_editable"] else _role(n["class_name"]))
        out.append({"id": f"n{n['unique_id']}", "role": role, "label": label[:200], "box": [float(l), float(t), float(r), float(b)],
                    "visible": True, "shown": True, "hit": True, "clickable": bool(n["is_clickable"]),
                    "long_clickable": bool(n["is_long_clickable"])})
    return out


def candidates(elements: list[dict], x: float, y: float, long: bool = False) -> list[dict]:
    """Elements under (x, y) a click (long press) acts on, smallest first; without any such, the
    smallest element under it. Our reading of InfiGUI-R1's ``candidate_bbox`` (not released)."""
    under = [e for e in elements if e["box"][0] <= x <= e["box"][2] and e["box"][1] <= y <= e["box"][3]]
    acting = [e for e in under if e["long_clickable" if long else "clickable"] or e["clickable"]]
    key = lambda e: (e["box"][2] - e["box"][0]) * (e["box"][3] - e["box"][1])   # noqa: E731
    return sorted(acting, key=key) or sorted(under, key=key)[:1]


def convert_action(a: dict, elements: list[dict], width: int, height: int) -> tuple[Action, dict | None]:
    """An AndroidControl action as InfiGUI-R1's, with the element it acts on."""
    kind = a.get("action_type")
    if kind in ("click", "long_press"):
        x, y = a.get("x"), a.get("y")
        if not isinstance(x, (int, float)) or not isinstance(y, (int, float)):
            raise BadRecord("bad_record", f"{kind} without x, y: {a}")
        if not (0 <= x < width and 0 <= y < height):
            raise BadRecord("point_off_screen", f"{kind} at ({x}, {y}) is outside the {width}x{height} screen")
        found = candidates(elements, x, y, kind == "long_press")
        return Action(kind, (round(x), round(y)), candidate_bbox=[int_box(e["box"]) for e in found],
                      time=1 if kind == "long_press" else None), (found[0] if found else None)
    if kind == "scroll":
        direction = a.get("direction")
        if direction not in ("up", "down", "left", "right"):
            raise BadRecord("bad_record", f"scroll without a direction: {a}")
        start, end = swipe_between([0, 0, width, height], direction)
        return Action("swipe", start, end, direction=direction), None
    if kind == "open_app":
        name = str(a.get("app_name") or "")
        icons = [e for e in elements if e["label"].strip().lower() == name.strip().lower()]
        return Action("open", text=name, candidate_bbox=[int_box(e["box"]) for e in icons]), (icons[0] if icons else None)
    if kind in ("input_text", "type"):
        return Action("type", text=str(a.get("text") or "")), None
    if kind in ("navigate_back", "navigate_home"):
        return Action("system_button", button="Back" if kind == "navigate_back" else "Home"), None
    if kind == "wait":
        return Action("wait", time=2), None
    raise BadRecord("unknown_action", f"action_type {kind!r}")


class _Folder(Source):
    takes_dir = True

    def __init__(self, ctx: StepContext, dir: str):
        self.ctx = ctx
        self.root = Path(dir).expanduser()
        if not self.root.is_dir():
            raise UsageError(f"--source-dir {dir}: no such directory")


@source("android_control")
class AndroidControlSource(_Folder):
    """AndroidControl's TFRecord episodes (``split`` from ``splits.json``: train, validation,
    test or all), one row per step and level."""

    def __init__(self, ctx: StepContext, *, dir: str, split: str = "train", levels: list[str] | None = None,
                 pattern: str = "android_control*"):
        super().__init__(ctx, dir)
        self.levels = _levels(levels)
        self.files = sorted(p for p in self.root.glob(pattern) if p.is_file() and p.suffix != ".json")
        if not self.files:
            raise UsageError(f"{self.root}: no {pattern} TFRecord files (AndroidControl's android_control-*-of-00020)")
        self.ids: set[int] | None = None
        if split != "all":
            path = self.root / "splits.json"
            if not path.is_file():
                raise UsageError(f"{self.root}: split {split!r} needs splits.json (or split: all)")
            splits = json.loads(path.read_text(encoding="utf-8"))
            if split not in splits:
                raise UsageError(f"{path}: no split {split!r} (splits: {', '.join(splits)})")
            self.ids = {int(i) for i in splits[split]}

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        n = 0
        for path in self.files:
            try:
                for data in read_tfrecords(path):
                    if n >= start:
                        yield from self._episode(data, path.name, n)
                    n += 1
            except TFRecordError as e:
                if n >= start:
                    yield Reject({"file": path.name, "record": n}, "truncated_file", str(e))
                n += 1

    def _episode(self, data: bytes, name: str, n: int) -> Iterator[dict | Reject]:
        try:
            ex = parse_example(data)
            eid = int(ex["episode_id"][0])
        except (ValueError, KeyError, IndexError, UnicodeDecodeError) as e:
            yield Reject({"file": name, "record": n}, "bad_record", f"not a tf.train.Example episode: {e}")
            return
        if self.ids is not None and eid not in self.ids:
            return
        try:
            rows = self._rows(ex, eid)
        except (RecordError, ValueError, KeyError, IndexError) as e:
            reason = getattr(e, "reason", "bad_episode")
            yield Reject({"episode_id": str(eid), "file": name}, reason, getattr(e, "detail", str(e)))
            return
        yield from rows

    def _rows(self, ex: dict, eid: int) -> list[dict]:
        shots, trees = ex["screenshots"], ex.get("accessibility_trees", [])
        actions = [json.loads(a) for a in ex["actions"]]
        instructions = [s.decode("utf-8") for s in ex["step_instructions"]]
        widths, heights = ex["screenshot_widths"], ex["screenshot_heights"]
        if not (len(shots) == len(actions) + 1 == len(instructions) + 1 == len(widths) == len(heights)):
            raise BadRecord("bad_episode", f"{len(shots)} screenshots for {len(actions)} actions and "
                                           f"{len(instructions)} instructions")
        goal = ex["goal"][0].decode("utf-8")
        images = []
        for k, (png, w, h) in enumerate(zip(shots, widths, heights)):
            img = decode_image(png, f"episode {eid} screenshot {k}")
            if (img.width, img.height) != (w, h):
                raise BadRecord("image_size_mismatch", f"screenshot {k} is {img.width}x{img.height}, declared {w}x{h}")
            nodes = parse_forest(trees[k]) if k < len(trees) else []
            images.append(Capture(png, tree_elements(nodes, w, h), {"title": ""}))
        rows, history = [], []
        for k, a in enumerate(actions):
            before = images[k]
            w, h = widths[k], heights[k]
            action, target = convert_action(a, before.elements, w, h)
            ep = Episode(str(eid), "android_control", "", "", "phone", "", goal, w, h)
            rec = Record(before, action, instructions[k], instructions[k], list(history), target, images[k + 1], step=k)
            rows += step_rows(ep, rec, self.levels)
            history.append(action.history())
        return rows


@source("android_control_json")
class AndroidControlJsonSource(_Folder):
    """InfiGUI-R1's processed AndroidControl JSON (``file``) with its screenshots under the folder."""

    def __init__(self, ctx: StepContext, *, dir: str, file: str = "android_control_test.json",
                 levels: list[str] | None = None):
        super().__init__(ctx, dir)
        self.levels = _levels(levels)
        path = self.root / file
        if not path.is_file():
            raise UsageError(f"{self.root}: expected {file} (InfiGUI-R1's android_control_test.json layout)")
        try:
            self.episodes = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise UsageError(f"{path}: not JSON: {e}") from None
        if not isinstance(self.episodes, list):
            raise UsageError(f"{path}: expected a JSON list of episodes")

    def __len__(self) -> int:
        return len(self.episodes)

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        for n, line in enumerate(self.episodes[start:], start):
            try:
                yield from self._rows(line)
            except (RecordError, ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
                reason = getattr(e, "reason", "bad_episode")
                eid = line.get("episode", {}).get("episode_id") if isinstance(line, dict) else None
                yield Reject({"episode_id": str(eid), "index": n}, reason, getattr(e, "detail", f"{type(e).__name__}: {e}"))

    def _rows(self, line: dict) -> list[dict]:
        w, h, episode = int(line["width"]), int(line["height"]), line["episode"]
        checks, pams = line["step_check_pams"], line["step_pams"]
        paths, instructions = episode["screenshot_paths"], episode["step_instructions"]
        if not (len(checks) == len(pams) == len(instructions) == len(paths) - 1):
            raise BadRecord("bad_episode", f"{len(paths)} screenshots for {len(checks)} steps")
        shots = []
        for p in paths:
            img = read_image(self.root / p)
            if (img.width, img.height) != (w, h):
                raise BadRecord("image_size_mismatch", f"{p} is {img.width}x{img.height}, the episode says {w}x{h}")
            shots.append(Capture(img.data, [], {"title": ""}))
        rows, history = [], []
        eid = str(episode["episode_id"])
        for k, (gt, pam) in enumerate(zip(checks, pams)):
            gt = {key: v for key, v in gt.items() if v is not None}
            point = gt.get("coordinate")
            if point is not None and not (0 <= point[0] < w and 0 <= point[1] < h):
                raise BadRecord("point_off_screen", f"step {k}: {gt['action']} at {point} is outside {w}x{h}")
            boxes = gt.get("candidate_bbox") or []
            target = {"box": boxes[0], "label": "", "role": ""} if boxes else None
            action = Action(gt["action"], tuple(point) if point else None)
            ep = Episode(eid, "android_control_json", "", "", "phone", "", episode["goal"], w, h)
            rec = Record(shots[k], action, instructions[k], instructions[k], list(history), target, shots[k + 1],
                         step=k, extra={"gt_action": gt, "action": pam, "action_type": gt["action"]})
            rows += step_rows(ep, rec, self.levels)
            history.append(json.dumps(pam, ensure_ascii=False))   # the evaluation's task_progress entry
        return rows


@source("screenspot")
class ScreenSpotSource(_Folder):
    """ScreenSpot / ScreenSpot-v2 grounding rows (``files``: glob of the JSON files)."""

    IMAGE_DIRS = ("screenspot_imgs", "screenspotv2_image", "images", ".")

    def __init__(self, ctx: StepContext, *, dir: str, files: str = "screenspot_*.json"):
        super().__init__(ctx, dir)
        self.items: list[tuple[str, int, Any]] = []
        paths = sorted(self.root.glob(files))
        if not paths:
            raise UsageError(f"{self.root}: no {files} (ScreenSpot's screenspot_mobile.json, ... or *_v2.json)")
        for path in paths:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as e:
                raise UsageError(f"{path}: not JSON: {e}") from None
            self.items += [(path.stem, i, item) for i, item in enumerate(data if isinstance(data, list) else [])]

    def __len__(self) -> int:
        return len(self.items)

    def read(self, start: int = 0) -> Iterator[dict | Reject]:
        for stem, i, item in self.items[start:]:
            try:
                yield self._row(stem, i, item)
            except (RecordError, KeyError, TypeError, ValueError) as e:
                yield Reject({"file": stem, "index": i}, getattr(e, "reason", "bad_record"),
                             getattr(e, "detail", f"{type(e).__name__}: {e}"))

    def _row(self, stem: str, i: int, item: dict) -> dict:
        name = str(item["img_filename"])
        path = next((self.root / d / name for d in self.IMAGE_DIRS if (self.root / d / name).is_file()),
                    self.root / self.IMAGE_DIRS[0] / name)
        img = read_image(path)
        x, y, bw, bh = (float(v) for v in item["bbox"])
        if bw <= 0 or bh <= 0:
            raise BadRecord("empty_box", f"{name}: bbox {item['bbox']} has no area")
        box = [x, y, x + bw, y + bh]
        if box[0] < -1 or box[1] < -1 or box[2] > img.width + 1 or box[3] > img.height + 1:
            raise BadRecord("box_outside_image", f"{name}: bbox {item['bbox']} is outside {img.width}x{img.height}")
        domain = stem.removeprefix("screenspot_").removesuffix("_v2")
        el = {"id": "target", "role": "icon" if item.get("data_type") == "icon" else "text",
              "label": str(item["instruction"]), "box": box, "shown": True, "hit": True, "visible": True}
        ep = Episode(f"{stem}-{i:05d}", "screenspot", "", str(item.get("data_source", "")), domain, "",
                     str(item["instruction"]), img.width, img.height)
        row = grounding_row(ep, Capture(img.data, [el], {"title": ""}), el, str(item["instruction"]), f"{stem}-{i:05d}")
        row["data_type"] = str(item.get("data_type", ""))
        return row


__all__ = ["AndroidControlSource", "AndroidControlJsonSource", "ScreenSpotSource"]
