"""``store_masks``: the answer mask, stored losslessly twice, with its size; and the verifiers
of earthreason (mask against image, mask against target, no class name in the question)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from r1data.corpora.earthreason.questions import EMPTY_ANSWER, leaked_words
from r1data.geometry import mask_to_png, png_to_mask, rle_decode, rle_encode
from r1data.steps.base import StepContext, step
from r1data.steps.checks import verifier


@step("store_masks")
def store_masks(rows: list[dict], ctx: StepContext) -> Iterator[dict]:
    """``mask_array`` -> ``mask`` (single-channel PNG, 0 / 255), ``mask_rle`` (COCO
    uncompressed RLE with its ``size`` [h, w]) and ``mask_area`` (foreground pixels).

    The array is dropped from the row here, in the worker, so that only the compressed
    forms travel back to the writer."""
    for row in rows:
        mask = np.asarray(row.pop("mask_array"), dtype=bool)
        yield {**row, "mask": mask_to_png(mask), "mask_rle": rle_encode(mask), "mask_area": int(np.count_nonzero(mask)),
               "empty": not mask.any()}


@verifier("earthreason_mask_matches_image")
def mask_matches_image(row: dict) -> bool | tuple[bool, str]:
    """The PNG mask and the RLE have the image's size and the same pixels; ``empty`` and
    ``mask_area`` agree with them."""
    mask = png_to_mask(row["mask"])
    if mask.shape != (row["height"], row["width"]):
        return False, f"mask is {mask.shape[1]}x{mask.shape[0]}, the image {row['width']}x{row['height']}"
    rle = row["mask_rle"]
    if list(rle["size"]) != [row["height"], row["width"]]:
        return False, f"RLE size {rle['size']} is not [{row['height']}, {row['width']}]"
    if not np.array_equal(rle_decode(rle), mask):
        return False, "the RLE and the PNG mask differ"
    area = int(np.count_nonzero(mask))
    if area != row.get("mask_area", area) or bool(row["empty"]) != (area == 0):
        return False, f"mask has {area} pixels, row says area {row.get('mask_area')} and empty={row['empty']}"
    return True


@verifier("earthreason_target_consistent")
def target_consistent(row: dict, min_pixels: int = 1) -> bool | tuple[bool, str]:
    """An empty target has the empty answer and a class absent from the image; a non-empty
    target has at least ``min_pixels`` pixels and an answer that is not the empty one."""
    classes = row.get("classes") or []
    if row["empty"]:
        if row.get("answer") != EMPTY_ANSWER:
            return False, f"empty target but the answer is {row.get('answer')!r}"
        if row.get("target_class") and row["target_class"] in classes:
            return False, f"empty target but {row['target_class']} is in the image"
        return True
    if row.get("mask_area", 0) < min_pixels:
        return False, f"target has {row.get('mask_area')} pixels < {min_pixels}"
    if row.get("answer") == EMPTY_ANSWER:
        return False, "the mask is not empty but the answer says there is no target"
    return True


@verifier("earthreason_no_class_leak")
def no_class_leak(row: dict) -> bool | tuple[bool, str]:
    """No question names the target class or one of its synonyms (EarthReason's questions are
    implicit). Rows without a known class (the released data) pass."""
    cls = row.get("target_class")
    if not cls:
        return True
    for q in row.get("questions") or [row.get("question", "")]:
        leaked = leaked_words(q, cls)
        if leaked:
            return False, f"question names the {cls}: {', '.join(leaked)} in {q!r}"
    return True
