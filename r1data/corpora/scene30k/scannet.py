"""ScanNet scans as scene graphs: objects with axis-aligned 3D boxes, and a point cloud.

A scan is read from one of three forms, tried in this order for each scene id:

1. the ScanNet v2 release, ``scans/<scene_id>/``: ``<scene_id>_vh_clean_2.ply`` (the mesh),
   ``<scene_id>_vh_clean_2.0.010000.segs.json`` (a segment per vertex),
   ``<scene_id>.aggregation.json`` or ``<scene_id>_vh_clean.aggregation.json`` (objects as
   groups of segments) and ``<scene_id>.txt`` (``axisAlignment = 16 floats``; test scans have
   none: identity). The alignment is applied to the vertices before boxes are measured, as
   VoteNet / ScanRefer / ScanQA preprocessing does, so boxes are in the axis-aligned frame.
2. ``boxes/<scene_id>.json``: ``{"objects": [{"id", "label", "center", "size"}]}`` already in
   the axis-aligned frame (no points).
3. ScanRefer/ScanQA preprocessing output, ``scannet_data/<scene_id>_aligned_bbox.npy`` (N x 8:
   cx cy cz dx dy dz nyu40_id object_id) with ``<scene_id>_aligned_vert.npy`` (N x 6+, xyz and
   rgb 0-255) for points when present. Labels are the NYU40 class names.

Object ids are the aggregation's ``objectId`` (0-based), the ids ScanRefer's ``object_id``,
ScanQA's ``object_ids`` and Nr3D's ``target_id`` use. Failures raise :class:`ScanError` with
the reject reason (``missing_scene`` or ``unreadable_scene``) and a one-line detail.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from r1data.corpora.scene30k.scene import STRUCTURE_CODES, SceneObject, category_rgb
from r1data.steps.base import RecordError

STRUCTURE = frozenset({"wall", "floor", "ceiling"})   # dropped unless keep_structure

NYU40 = ("wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window", "bookshelf",
         "picture", "counter", "blinds", "desk", "shelves", "curtain", "dresser", "pillow", "mirror",
         "floor mat", "clothes", "ceiling", "books", "refrigerator", "television", "paper", "towel",
         "shower curtain", "box", "whiteboard", "person", "night stand", "toilet", "sink", "lamp",
         "bathtub", "bag", "otherstructure", "otherfurniture", "otherprop")   # ids 1..40

_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
              "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
              "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}
_SCENE_DIR = re.compile(r"^scene\d{4}_\d{2}$")


class ScanError(RecordError):
    """A scan that cannot be used: ``reason`` is the reject reason, ``detail`` says why."""


# -- PLY ----------------------------------------------------------------------------------------

def read_ply_vertices(path: Path) -> np.ndarray:
    """The ``vertex`` element of a PLY file as a numpy structured array (fields as declared).

    Binary (little or big endian) files are read with one ``np.fromfile`` of the vertex block;
    the faces that follow are never read. Raises ``ValueError`` on a malformed or short file.
    """
    with open(path, "rb") as f:
        if f.readline().strip() != b"ply":
            raise ValueError("not a PLY file (no 'ply' magic line)")
        fmt = None
        elements: list[tuple[str, int, list[tuple[str, str | None]]]] = []
        while True:
            line = f.readline()
            if not line:
                raise ValueError("header has no end_header")
            if f.tell() > 1 << 16:
                raise ValueError("header longer than 64 KiB")
            words = line.decode("ascii", "replace").split()
            if not words or words[0] in ("comment", "obj_info"):
                continue
            if words[0] == "end_header":
                break
            if words[0] == "format" and len(words) >= 2:
                fmt = words[1]
            elif words[0] == "element" and len(words) == 3:
                elements.append((words[1], int(words[2]), []))
            elif words[0] == "property" and elements:
                if words[1] == "list":
                    elements[-1][2].append((words[-1], None))
                elif len(words) == 3 and words[1] in _PLY_TYPES:
                    elements[-1][2].append((words[2], _PLY_TYPES[words[1]]))
                else:
                    raise ValueError(f"bad property line {line.strip()!r}")
            else:
                raise ValueError(f"bad header line {line.strip()!r}")
        header_bytes = f.tell()
    names = [e[0] for e in elements]
    if "vertex" not in names:
        raise ValueError("no vertex element")
    skip_rows = 0
    skip_bytes = 0
    for name, count, props in elements[: names.index("vertex")]:
        if any(t is None for _, t in props):   # a list before the vertices: sizes unknown
            raise ValueError(f"element {name!r} with list properties precedes the vertices")
        skip_rows += count
        skip_bytes += count * sum(np.dtype(t).itemsize for _, t in props)  # type: ignore[arg-type]
    _, count, props = elements[names.index("vertex")]
    if any(t is None for _, t in props):
        raise ValueError("list property in the vertex element")
    if fmt == "ascii":
        dtype = np.dtype([(n, t) for n, t in props])   # type: ignore[misc]
        with open(path, "rb") as f:
            f.seek(header_bytes)
            for _ in range(skip_rows):
                f.readline()
            table = np.loadtxt(f, max_rows=count, ndmin=2)
        if table.shape != (count, len(props)):
            raise ValueError(f"expected {count} vertex rows of {len(props)} values, got {table.shape}")
        out = np.empty(count, dtype=dtype)
        for i, (n, _) in enumerate(props):
            out[n] = table[:, i]
        return out
    order = {"binary_little_endian": "<", "binary_big_endian": ">"}.get(fmt or "")
    if order is None:
        raise ValueError(f"unsupported PLY format {fmt!r}")
    dtype = np.dtype([(n, order + t) for n, t in props])   # type: ignore[operator]
    data = np.fromfile(path, dtype=dtype, count=count, offset=header_bytes + skip_bytes)
    if len(data) != count:
        raise ValueError(f"file ends after {len(data)} of {count} vertices")
    return data


# -- ScanNet meta files ---------------------------------------------------------------------

def read_axis_alignment(path: Path) -> np.ndarray | None:
    """The 4x4 ``axisAlignment`` matrix of a ScanNet ``<scene_id>.txt``; None when absent."""
    for line in path.read_text(errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "axisAlignment":
            numbers = [float(v) for v in value.split()]
            if len(numbers) != 16:
                raise ValueError(f"axisAlignment has {len(numbers)} numbers, expected 16")
            return np.array(numbers, dtype=np.float64).reshape(4, 4)
    return None


def apply_alignment(xyz: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Points (N, 3) transformed by a 4x4 homogeneous matrix."""
    return xyz @ matrix[:3, :3].T + matrix[:3, 3]


def object_boxes(xyz: np.ndarray, seg_indices: np.ndarray, groups: list[dict],
                 keep_structure: bool = False) -> list[SceneObject]:
    """Axis-aligned boxes of the aggregation's objects, measured over their segments' vertices.

    Bounds are reduced per segment first (one sort of the vertices), then per object over its
    segments, so the cost is one pass over the mesh whatever the number of objects. Objects
    whose segments have no vertex are left out.
    """
    order = np.argsort(seg_indices, kind="stable")
    segs_sorted = seg_indices[order]
    seg_ids, starts = np.unique(segs_sorted, return_index=True)
    pts = xyz[order]
    seg_lo = np.minimum.reduceat(pts, starts, axis=0) if len(pts) else np.zeros((0, 3))
    seg_hi = np.maximum.reduceat(pts, starts, axis=0) if len(pts) else np.zeros((0, 3))
    objects = []
    for g in groups:
        label = str(g["label"])
        if not keep_structure and label.strip().lower() in STRUCTURE:
            continue
        wanted = np.asarray(g["segments"], dtype=np.int64).reshape(-1)
        pos = np.searchsorted(seg_ids, wanted)
        found = pos < len(seg_ids)
        found[found] &= seg_ids[pos[found]] == wanted[found]
        if not found.any():
            continue
        lo = seg_lo[pos[found]].min(axis=0)
        hi = seg_hi[pos[found]].max(axis=0)
        objects.append(SceneObject(id=int(g["objectId"]), category=label,
                                   center=tuple(float(v) for v in (lo + hi) / 2),  # type: ignore[arg-type]
                                   extent=tuple(float(v) for v in hi - lo)))       # type: ignore[arg-type]
    return sorted(objects, key=lambda o: o.id)


def quaternion_matrix(q: np.ndarray) -> np.ndarray:
    """3x3 rotation of a quaternion (x, y, z, w), scalar last as scipy's ``from_quat``."""
    x, y, z, w = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def matrix_quaternion(m: np.ndarray) -> np.ndarray:
    """Quaternion (x, y, z, w) of a 3x3 rotation matrix; of q and -q, the one whose last
    non-zero component (w, else z, else y...) is positive."""
    t = np.trace(m)
    if t > 0:
        s = 2 * np.sqrt(t + 1)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2 * np.sqrt(1 + m[i, i] - m[j, j] - m[k, k])
        q = [0.0, 0.0, 0.0, (m[k, j] - m[j, k]) / s]
        q[i], q[j], q[k] = s / 4, (m[j, i] + m[i, j]) / s, (m[k, i] + m[i, k]) / s
    q = np.asarray(q)
    lead = next((v for v in q[::-1] if abs(v) > 1e-12), 1.0)   # w, else z, else y, ...
    return q if lead > 0 else -q


def align_agent_pose(position: list[float], rotation: list[float], raw_center: np.ndarray,
                     alignment: np.ndarray) -> tuple[list[float], list[float]]:
    """An SQA3D agent pose moved into the scan's axis-aligned frame.

    SQA3D gives the position relative to the centre of the raw mesh's bounding box and the
    rotation in the raw frame; its own loader (``ScanQA/lib/sepdataset.py``) adds that centre,
    then applies ``axisAlignment`` to the point and its 3x3 part to the rotation. Same here.
    """
    p = alignment @ np.append(np.asarray(position, dtype=np.float64) + raw_center, 1.0)
    r = matrix_quaternion(alignment[:3, :3] @ quaternion_matrix(np.asarray(rotation)))
    return [round(float(v), 6) + 0.0 for v in p[:3]], [round(float(v), 6) + 0.0 for v in r]


# -- where a scan lives --------------------------------------------------------------------------

@dataclass
class ScanGeometry:
    objects: list[SceneObject]
    points: np.ndarray | None          # (N, 6) float32 xyz + rgb 0..1, or None
    form: str                          # scannet | boxes_json | aligned_bbox
    files: tuple[Path, ...] = ()       # the files read (for the manifest's list)
    # scan folders only: the centre of the raw mesh's bounding box and the axisAlignment
    # matrix, the frame SQA3D's agent poses are given in (see align_agent_pose)
    raw_center: np.ndarray | None = None
    alignment: np.ndarray | None = None
    point_labels: np.ndarray | None = None   # (N, 2) int32: object id (-1 none), structure code


class ScanNetLayout:
    """Finds and loads the scans under a ``--source-dir`` (see the module docstring)."""

    def __init__(self, root: Path):
        self.root = root
        self.scan_roots = [p for p in (root / "scans", root / "scannet" / "scans", root / "ScanNet" / "scans",
                                       root / "scannet", root) if p.is_dir()]
        self.box_dirs = [p for p in (root / "boxes", root / "scannet" / "boxes") if p.is_dir()]
        self.npy_dirs = [p for p in (root / "scannet_data", root / "scannet" / "scannet_data") if p.is_dir()]

    def load(self, scene_id: str, *, max_points: int, rng: np.random.Generator,
             keep_structure: bool = False) -> ScanGeometry:
        """The scan's objects and points; raises :class:`ScanError` when it cannot."""
        missing: ScanError | None = None
        folder = next((r / scene_id for r in self.scan_roots if (r / scene_id).is_dir()), None)
        if folder is not None:
            try:
                return load_scannet_folder(folder, scene_id, max_points=max_points, rng=rng,
                                           keep_structure=keep_structure)
            except ScanError as e:
                if e.reason != "missing_scene":
                    raise
                missing = e      # an incomplete scan folder: a boxes file may still serve
        for d in self.box_dirs:
            if (d / f"{scene_id}.json").is_file():
                return load_boxes_json(d / f"{scene_id}.json", keep_structure=keep_structure)
        for d in self.npy_dirs:
            if (d / f"{scene_id}_aligned_bbox.npy").is_file():
                return load_aligned_bbox(d, scene_id, max_points=max_points, rng=rng,
                                         keep_structure=keep_structure)
        raise missing or ScanError("missing_scene", f"no scan for {scene_id} under {self.root} (looked for "
                                   f"scans/{scene_id}/, boxes/{scene_id}.json, "
                                   f"scannet_data/{scene_id}_aligned_bbox.npy)")


def _json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ScanError("unreadable_scene", f"{path}: not valid JSON ({e})") from None


def subsample(points: np.ndarray, max_points: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``max_points`` rows, chosen by ``rng`` and kept in file order."""
    if len(points) <= max_points:
        return points
    return points[np.sort(rng.choice(len(points), size=max_points, replace=False))]


def load_scannet_folder(folder: Path, scene_id: str, *, max_points: int, rng: np.random.Generator,
                        keep_structure: bool = False) -> ScanGeometry:
    """A ScanNet v2 scan folder -> objects (aligned AABBs) and a subsampled coloured point cloud."""
    mesh = folder / f"{scene_id}_vh_clean_2.ply"
    segs = folder / f"{scene_id}_vh_clean_2.0.010000.segs.json"
    aggs = [folder / f"{scene_id}.aggregation.json", folder / f"{scene_id}_vh_clean.aggregation.json"]
    agg = next((p for p in aggs if p.is_file()), None)
    for path, what in ((mesh, mesh.name), (segs, segs.name), (agg, f"{aggs[0].name} or {aggs[1].name}")):
        if path is None or not path.is_file():
            raise ScanError("missing_scene", f"{folder}: {what} not found")
    assert agg is not None
    try:
        vertices = read_ply_vertices(mesh)
    except (OSError, ValueError) as e:
        raise ScanError("unreadable_scene", f"{mesh}: {e}") from None
    if not {"x", "y", "z"} <= set(vertices.dtype.names or ()):
        raise ScanError("unreadable_scene", f"{mesh}: vertices have no x, y, z")
    xyz = np.column_stack([vertices["x"], vertices["y"], vertices["z"]]).astype(np.float64)
    raw_center = (xyz.min(axis=0) + xyz.max(axis=0)) / 2 if len(xyz) else np.zeros(3)
    meta = folder / f"{scene_id}.txt"
    matrix = None
    if meta.is_file():
        try:
            matrix = read_axis_alignment(meta)
        except (OSError, ValueError) as e:
            raise ScanError("unreadable_scene", f"{meta}: {e}") from None
        if matrix is not None:
            xyz = apply_alignment(xyz, matrix)
    seg_data = _json(segs)
    agg_data = _json(agg)
    try:
        seg_indices = np.asarray(seg_data["segIndices"], dtype=np.int64)  # type: ignore[index]
        groups = list(agg_data["segGroups"])  # type: ignore[index]
        for g in groups:
            missing = [k for k in ("objectId", "label", "segments") if k not in g]
            if missing:
                raise KeyError(", ".join(missing))
    except (KeyError, TypeError, ValueError) as e:
        raise ScanError("unreadable_scene", f"{segs.name} / {agg.name}: expected segIndices and segGroups "
                        f"with objectId, label, segments ({type(e).__name__}: {e})") from None
    if seg_indices.shape != (len(xyz),):
        raise ScanError("unreadable_scene", f"{segs}: {seg_indices.size} segIndices for {len(xyz)} vertices")
    objects = object_boxes(xyz, seg_indices, groups, keep_structure)
    names = set(vertices.dtype.names or ())
    if {"red", "green", "blue"} <= names:
        rgb = np.column_stack([vertices["red"], vertices["green"], vertices["blue"]]).astype(np.float32)
        if vertices["red"].dtype.kind in "ui":   # 8-bit colors (ScanNet); float colors are 0..1 already
            rgb /= 255.0
    else:
        rgb = None
    labels = vertex_labels(seg_indices, groups, {o.id for o in objects})
    if rgb is None:
        rgb = fallback_colors(xyz, labels, {o.id: o.category for o in objects})
    table = subsample(np.hstack([xyz.astype(np.float32), rgb, labels.astype(np.float32)]), max_points, rng)
    files = (mesh, segs, agg, *((meta,) if meta.is_file() else ()))
    return ScanGeometry(objects, table[:, :6].copy(), "scannet", files=files, raw_center=raw_center,
                        alignment=matrix if matrix is not None else np.eye(4),
                        point_labels=table[:, 6:].astype(np.int32))


def vertex_labels(seg_indices: np.ndarray, groups: list[dict], object_ids: set[int]) -> np.ndarray:
    """(V, 2) per mesh vertex: the id of the object (among ``object_ids``) whose segments hold
    it, else -1; and its structure code (1 floor, 2 wall, 3 ceiling, 0 none) from the label."""
    labels = np.zeros((len(seg_indices), 2), dtype=np.int64)
    labels[:, 0] = -1
    seg_ids, inverse = np.unique(seg_indices, return_inverse=True)
    seg_obj = np.full(len(seg_ids), -1, dtype=np.int64)
    seg_struct = np.zeros(len(seg_ids), dtype=np.int64)
    for g in groups:
        wanted = np.asarray(g["segments"], dtype=np.int64).reshape(-1)
        pos = np.searchsorted(seg_ids, wanted)
        ok = pos < len(seg_ids)
        ok[ok] &= seg_ids[pos[ok]] == wanted[ok]
        label = str(g["label"]).strip().lower()
        if int(g["objectId"]) in object_ids:
            seg_obj[pos[ok]] = int(g["objectId"])
        seg_struct[pos[ok]] = STRUCTURE_CODES.get(label, 0) if label in STRUCTURE else 0
    labels[:, 0] = seg_obj[inverse]
    labels[:, 1] = seg_struct[inverse]
    return labels


def fallback_colors(xyz: np.ndarray, labels: np.ndarray, categories: dict[int, str]) -> np.ndarray:
    """Colours for a scan whose mesh has none (documented fallback): each object's points in
    its category colour, floor and walls in light greys, the rest mid grey; never black."""
    rgb = np.full((len(xyz), 3), 0.6, dtype=np.float32)
    rgb[labels[:, 1] == STRUCTURE_CODES["floor"]] = (0.80, 0.78, 0.74)
    rgb[labels[:, 1] >= STRUCTURE_CODES["wall"]] = (0.88, 0.87, 0.84)
    for oid, category in categories.items():
        rgb[labels[:, 0] == oid] = np.array(category_rgb(category), dtype=np.float32) / 255.0
    return rgb


def load_boxes_json(path: Path, keep_structure: bool = False) -> ScanGeometry:
    """``boxes/<scene_id>.json``: ``{"objects": [{"id", "label", "center", "size"}]}`` (or the bare list)."""
    data = _json(path)
    items = data.get("objects") if isinstance(data, dict) else data
    objects = []
    try:
        for o in items:  # type: ignore[union-attr]
            label = str(o["label"])
            if not keep_structure and label.strip().lower() in STRUCTURE:
                continue
            center = tuple(float(v) for v in o["center"])
            size = tuple(float(v) for v in o["size"])
            if len(center) != 3 or len(size) != 3:
                raise ValueError("center and size need 3 numbers")
            objects.append(SceneObject(id=int(o["id"]), category=label,
                                       center=center, extent=size))  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError) as e:
        raise ScanError("unreadable_scene", f"{path}: expected objects with id, label, center [3], size [3] "
                        f"({type(e).__name__}: {e})") from None
    return ScanGeometry(sorted(objects, key=lambda o: o.id), None, "boxes_json", files=(path,))


def load_aligned_bbox(folder: Path, scene_id: str, *, max_points: int, rng: np.random.Generator,
                      keep_structure: bool = False) -> ScanGeometry:
    """ScanRefer/ScanQA ``scannet_data/<id>_aligned_bbox.npy`` (+ ``_aligned_vert.npy``)."""
    path = folder / f"{scene_id}_aligned_bbox.npy"
    try:
        boxes = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ScanError("unreadable_scene", f"{path}: {e}") from None
    if boxes.ndim != 2 or boxes.shape[1] < 8:
        raise ScanError("unreadable_scene", f"{path}: expected (N, 8) boxes, got {boxes.shape}")
    objects = []
    for cx, cy, cz, dx, dy, dz, label_id, object_id in boxes[:, :8].astype(np.float64):
        k = int(label_id)
        label = NYU40[k - 1] if 1 <= k <= len(NYU40) else f"class {k}"
        if not keep_structure and label in STRUCTURE:
            continue
        objects.append(SceneObject(id=int(object_id), category=label, center=(float(cx), float(cy), float(cz)),
                                   extent=(float(dx), float(dy), float(dz))))
    points = None
    vert_path = folder / f"{scene_id}_aligned_vert.npy"
    if vert_path.is_file():
        try:
            verts = np.load(vert_path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise ScanError("unreadable_scene", f"{vert_path}: {e}") from None
        if verts.ndim != 2 or verts.shape[1] < 6:
            raise ScanError("unreadable_scene", f"{vert_path}: expected (N, 6+) xyz rgb, got {verts.shape}")
        pts = verts[:, :6].astype(np.float32)
        pts[:, 3:] /= 255.0
        labels = aligned_labels(folder, scene_id, len(pts), {o.id for o in objects})
        table = subsample(np.hstack([pts, labels.astype(np.float32)]), max_points, rng)
        points, point_labels = table[:, :6].copy(), table[:, 6:].astype(np.int32)
        return ScanGeometry(sorted(objects, key=lambda o: o.id), points, "aligned_bbox",
                            files=(path, vert_path), point_labels=point_labels)
    return ScanGeometry(sorted(objects, key=lambda o: o.id), points, "aligned_bbox", files=(path,))


def aligned_labels(folder: Path, scene_id: str, n: int, object_ids: set[int]) -> np.ndarray:
    """(N, 2) labels of ``_aligned_vert.npy``'s points from ScanRefer's ``_ins_label.npy``
    (objectId + 1, 0 unannotated) and ``_sem_label.npy`` (NYU40 ids: 1 wall, 2 floor, 22
    ceiling) when they are there and have one entry per point; else -1 / 0."""
    labels = np.zeros((n, 2), dtype=np.int64)
    labels[:, 0] = -1
    for suffix, column in (("_ins_label.npy", 0), ("_sem_label.npy", 1)):
        path = folder / f"{scene_id}{suffix}"
        if not path.is_file():
            continue
        try:
            values = np.load(path, allow_pickle=False).reshape(-1).astype(np.int64)
        except (OSError, ValueError):
            continue
        if len(values) != n:
            continue
        if column == 0:
            ids = values - 1
            labels[:, 0] = np.where(np.isin(ids, sorted(object_ids)), ids, -1)
        else:
            labels[:, 1] = np.select([values == 2, values == 1, values == 22], [1, 2, 3], 0)
    return labels


def find_file(root: Path, name: str) -> Path | None:
    """``name`` in ``root`` or its sub-folders up to two levels down (sorted, scan folders skipped)."""
    level = [root]
    for _ in range(3):
        for d in level:
            if (d / name).is_file():
                return d / name
        nxt = []
        for d in level:
            try:
                children = sorted(p for p in d.iterdir() if p.is_dir())
            except OSError:
                continue
            nxt.extend(p for p in children if not _SCENE_DIR.match(p.name)
                       and p.name not in ("scans", "scannet_data", "boxes"))
        level = nxt
    return None
