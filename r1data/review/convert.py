"""Values between a corpus row and Label Studio: pre-annotations out, reviewers' results back.

Label Studio draws in percent of the image (``x``, ``y``, ``width``, ``height`` from the top
left); the schema's ``box2d`` is ``x1, y1, x2, y2`` and ``point2d`` ``x, y`` in pixels. Masks
travel as Label Studio's brush RLE (an RGBA image run-length coded, the alpha channel holding
the mask) and come back as single-channel PNGs (0 background, 255 foreground). Time spans on a
video travel as timeline regions in frames (:mod:`r1data.review.spans`).
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

from r1data.review.layout import (BRUSH, JSON_TEXT, KEYPOINTS, RECTANGLES, RESULT_TYPES, SPANS, TEXT,
                                  TEXT_LINES, VERDICT, VERDICTS, Control, ReviewLayout)
from r1data.review.spans import read_spans, span_results, spans_close
from r1data.schema import RecordSchema

PIXEL_TOLERANCE = 0.5      # a box or point moved less than this (rounding of percents) is unchanged
IMAGE_MARK = "$png_base64"  # how an image (a corrected mask) is written in the `corrected` JSON


class Unconvertible(ValueError):
    """An annotation result that cannot be turned back into the schema's type."""


# -- images ------------------------------------------------------------------------------------

def image_bytes(value: Any) -> bytes | None:
    if isinstance(value, dict):
        return value.get("bytes")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return None


def image_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return im.width, im.height


def _mask_array(data: bytes, size: tuple[int, int]) -> Any:
    """A mask PNG as a boolean (H, W) array, resized to the image's size if it differs."""
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im = im.convert("L")
        if im.size != size:
            im = im.resize(size, Image.NEAREST)
        return np.asarray(im) > 0


def _mask_png(mask: Any) -> bytes:
    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((mask.astype(np.uint8) * 255)).save(buf, format="PNG")
    return buf.getvalue()


# -- row -> pre-annotation -----------------------------------------------------------------------

def prediction_result(row: dict, layout: ReviewLayout, size: tuple[int, int] | None,
                      fps: float | None = None) -> list[dict]:
    """The pipeline's output for ``row`` as Label Studio results (the reviewer's starting point).

    ``size`` is the image geometry is drawn on, ``fps`` the frame rate time spans are counted in."""
    out: list[dict] = []
    for c in layout.controls:
        value = row.get(c.name)
        if value is None and c.kind != JSON_TEXT:
            continue
        if c.kind == SPANS:
            if fps and layout.video:
                out.extend(span_results(c.name, c.texts, value, layout.video, fps))
            continue
        items = value if c.multiple and c.kind not in (TEXT_LINES,) else [value]
        base = {"from_name": c.name, "to_name": layout.draw_on, "type": RESULT_TYPES[c.kind]}
        if c.kind in (RECTANGLES, KEYPOINTS, BRUSH):
            if size is None:
                continue  # the row has no image to draw on
            w, h = size
            base.update(original_width=w, original_height=h, image_rotation=0)
            for i, item in enumerate(items):
                if item is None:
                    continue
                r = {**base, "id": f"{c.name}_{i}"}
                if c.kind == RECTANGLES:
                    x1, y1, x2, y2 = (float(v) for v in item)
                    r["value"] = {"x": 100 * x1 / w, "y": 100 * y1 / h, "width": 100 * (x2 - x1) / w,
                                  "height": 100 * (y2 - y1) / h, "rotation": 0, "rectanglelabels": [c.name]}
                elif c.kind == KEYPOINTS:
                    x, y = (float(v) for v in item)
                    r["value"] = {"x": 100 * x / w, "y": 100 * y / h, "width": 0.5, "keypointlabels": [c.name]}
                else:
                    from label_studio_sdk.converter.brush import mask2rle  # heavy: only when masks exist
                    import numpy as np

                    mask = _mask_array(image_bytes(item) or b"", size)
                    r["value"] = {"format": "rle", "rle": mask2rle(mask.astype(np.uint8) * 255),
                                  "brushlabels": [c.name]}
                out.append(r)
        elif c.kind == TEXT:
            out.append({**base, "id": c.name, "value": {"text": [str(value)]}})
        elif c.kind == TEXT_LINES:
            out.append({**base, "id": c.name, "value": {"text": [str(v) for v in value]}})
        else:  # JSON_TEXT
            out.append({**base, "id": c.name, "value": {"text": [json.dumps(_rounded(_jsonable(value)))]}})
    return out


# -- reviewer's result -> values -----------------------------------------------------------------

def result_values(result: list[dict], layout: ReviewLayout, size: tuple[int, int] | None,
                  fps: float | None = None) -> tuple[str | None, dict[str, Any]]:
    """The verdict and the value of each control present in an annotation's ``result``.

    Controls absent from the result are absent from the dict (the reviewer left them as they
    were). Raises :class:`Unconvertible` naming the field when a value cannot be converted.
    """
    verdict = None
    groups: dict[str, list[dict]] = {}
    for r in result:
        name = r.get("from_name")
        if name == VERDICT:
            choices = (r.get("value") or {}).get("choices") or []
            if choices:
                verdict = str(choices[0]).lower()
                if verdict not in VERDICTS:
                    raise Unconvertible(f"verdict {choices[0]!r} is not one of {', '.join(VERDICTS)}")
            continue
        groups.setdefault(name, []).append(r)
    values: dict[str, Any] = {}
    for c in layout.spans:
        if c.name in groups:   # texts alone (no region) mean the spans were left as they were
            try:
                values[c.name] = read_spans(c.name, c.texts, result, fps)
            except (KeyError, TypeError, ValueError) as e:
                raise Unconvertible(f"{c.name}: {e}") from None
    names = {c.name for c in layout.controls if c.kind != SPANS}
    for name, results in groups.items():
        if name not in names:
            continue  # spans (above), per-span texts, or a control of an older config
        c = layout.control(name)
        try:
            items = [_result_item(c, r, size) for r in results]
        except (KeyError, TypeError, ValueError) as e:
            raise Unconvertible(f"{name}: {e}") from None
        items = [i for i in items if i is not None]
        if c.kind in (TEXT, JSON_TEXT, TEXT_LINES):
            values[name] = items[0] if items else ("" if c.kind == TEXT else None)
        elif c.multiple:
            values[name] = items
        elif c.kind == BRUSH:
            # several strokes painted for one mask: their union
            import numpy as np

            values[name] = np.logical_or.reduce(items) if items else None
        elif len(items) > 1:
            raise Unconvertible(f"{name}: {len(items)} regions drawn, the schema holds one {c.type}")
        else:
            values[name] = items[0] if items else None
    return verdict, values


def _result_item(c: Control, r: dict, size: tuple[int, int] | None) -> Any:
    v = r.get("value") or {}
    if c.kind in (TEXT, TEXT_LINES, JSON_TEXT):
        texts = [str(t) for t in v.get("text") or []]
        if c.kind == TEXT:
            return "\n".join(texts)
        if c.kind == TEXT_LINES:
            return [t for t in texts]
        text = "\n".join(texts).strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"not JSON ({e.msg} at character {e.pos})") from None
    w = float(r.get("original_width") or (size or (0, 0))[0])
    h = float(r.get("original_height") or (size or (0, 0))[1])
    if not w or not h:
        raise ValueError("result has no original_width/original_height")
    if c.kind == RECTANGLES:
        if abs(float(v.get("rotation") or 0)) > 1e-6:
            raise ValueError(f"box rotated by {v['rotation']} degrees; box2d is axis-aligned")
        x1, y1 = float(v["x"]) * w / 100, float(v["y"]) * h / 100
        return [round(x1, 2), round(y1, 2), round(x1 + float(v["width"]) * w / 100, 2),
                round(y1 + float(v["height"]) * h / 100, 2)]
    if c.kind == KEYPOINTS:
        return [round(float(v["x"]) * w / 100, 2), round(float(v["y"]) * h / 100, 2)]
    # BRUSH
    from label_studio_sdk.converter.brush import decode_rle

    rle = v.get("rle") or r.get("rle")
    if not rle:
        raise ValueError("brush result without rle")
    flat = decode_rle(rle)
    if flat.size != int(w) * int(h) * 4:
        raise ValueError(f"brush RLE holds {flat.size} values, expected {int(w)}x{int(h)}x4")
    return flat.reshape(int(h), int(w), 4)[:, :, 3] > 0


# -- values -> corrections -----------------------------------------------------------------------

def corrections(values: dict[str, Any], row: dict, layout: ReviewLayout,
                size: tuple[int, int] | None, fps: float | None = None) -> dict[str, Any]:
    """The fields whose reviewed value differs from the row's, as JSON-ready values."""
    out: dict[str, Any] = {}
    for name, new in values.items():
        c = layout.control(name)
        old = row.get(name)
        if c.kind == SPANS:
            if not spans_close(old, new, c.texts, fps):
                out[name] = new
        elif c.kind == BRUSH:
            olds = (old or []) if c.multiple else [old]
            news = (new or []) if c.multiple else [new]
            old_masks = [_mask_array(image_bytes(o) or b"", size) for o in olds if o is not None]  # type: ignore[arg-type]
            new_masks = [m for m in news if m is not None]
            same = len(old_masks) == len(new_masks) and all(
                a.shape == b.shape and bool((a == b).all()) for a, b in zip(old_masks, new_masks))
            if not same:
                encoded = [{IMAGE_MARK: base64.b64encode(_mask_png(m)).decode()} for m in new_masks]
                out[name] = encoded if c.multiple else (encoded[0] if encoded else None)
        elif c.kind in (RECTANGLES, KEYPOINTS):
            olds = (old or []) if c.multiple else ([] if old is None else [old])
            news = (new or []) if c.multiple else ([] if new is None else [new])
            if not _close(olds, news):
                out[name] = news if c.multiple else (news[0] if news else None)
        elif c.kind == TEXT:
            if (new or "").strip() != (old or "").strip():
                out[name] = new
        elif c.kind == TEXT_LINES:
            if [s.strip() for s in new or []] != [str(s).strip() for s in old or []]:
                out[name] = new
        elif _jsonable(new) != _jsonable(old) and not _numbers_close(new, old):
            out[name] = new
    return out


def _close(a: list, b: list) -> bool:
    if len(a) != len(b):
        return False
    return all(len(p) == len(q) and all(abs(float(x) - float(y)) <= PIXEL_TOLERANCE for x, y in zip(p, q))
               for p, q in zip(a, b))


def _numbers_close(a: Any, b: Any) -> bool:
    """Lists of floats equal up to float32 rounding (the shards store float32)."""
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        try:
            return all(abs(float(x) - float(y)) <= 1e-4 * max(1.0, abs(float(y))) for x, y in zip(a, b))
        except (TypeError, ValueError):
            return False
    return False


def check_types(corrected: dict[str, Any], schema: RecordSchema) -> str | None:
    """Why ``corrected`` does not fit the schema's types (``None`` when it does)."""
    from r1data.schema import RecordSchema as _RS

    for name, value in corrected.items():
        f = schema.field(name)
        if value is None:
            if f.required:
                return f"{name}: required, the review cleared it"
            continue
        one = _RS(name="check", fields=(f,))
        _, bad = one.to_batch([{name: decode_value(value)}])
        if bad:
            return f"{name}: {bad[0][1]}"
    return None


def decode_value(value: Any) -> Any:
    """A ``corrected`` JSON value as a value the schema's encoders take (masks to PNG bytes)."""
    if isinstance(value, dict) and set(value) == {IMAGE_MARK}:
        return base64.b64decode(value[IMAGE_MARK])
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def _rounded(value: Any) -> Any:
    """Floats cut to 4 decimals (float32 noise such as 1.194000005722046 hides the value)."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict) and "bytes" in value:
        return "<image>"
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
