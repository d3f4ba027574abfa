"""The embedded default of ``trance``: procedural TRANCE samples rendered by r1data.render3d.

``procedural_trance`` (source) only numbers the samples; ``render_trance`` (a stateless step that
``--workers N`` spreads over processes) samples each one from a generator seeded by the spec seed
and the sample's number, so sample ``i`` is the same whatever the batch, worker or resume point:

1. an initial state (``generate.initial_state``) drawn from the centre camera; the objects shown
   with at least TRANCE's 150 pixels (at 320x240; scaled to the image size) may be transformed;
2. ``transformations`` [min, max] transformations (uniform, as TRANCE balances them) under
   TRANCE's rules (``generate.sample_transformations``);
3. the final state drawn from the three cameras (a small, unshaded pass first): a sequence that
   hides a transformed object (other than one moved out of view) from any of them is sampled
   again (``sequence_tries`` per initial state), then the whole sample, at most ``max_tries``
   times (``no_sample`` after that).

Each sample gives one row per view in ``views``: the final image from the centre camera is the
Basic setting (one transformation) or the Event setting (several), from the left or right camera
the View setting. The rows of one sample share ``sample_id``, the split's group key.
"""

from __future__ import annotations

from collections.abc import Iterator

from r1data.corpora.trance import render as tr
from r1data.corpora.trance.generate import initial_state, sample_transformations, transformed_in_view
from r1data.corpora.trance.prompt import answer_text, question_text
from r1data.corpora.trance.world import ATTRIBUTES, apply, is_visible
from r1data.errors import UsageError
from r1data.steps.base import PositiveInt, Reject, StepContext, record_rng, source, step
from r1data.steps.synthetic import NumberedSource

CHECK_SCALE = 2          # the visibility pass draws at 1/2 the size, without shadows


@source("procedural_trance")
class ProceduralTrance(NumberedSource):
    """Endless numbered TRANCE samples (drawn by the ``render_trance`` step)."""

    def __init__(self, ctx: StepContext):
        self.ctx = ctx

    def item(self, i: int) -> dict:
        return {"id": f"trance{i:07d}", "sample_id": f"trance{i:07d}", "sample_index": i}


def setting_of(view: str, n: int) -> str:
    """TRANCE's setting of a row: Basic (one transformation, same view), Event (several, same
    view), View (the final image from another camera)."""
    if view != "center":
        return "view"
    return "basic" if n == 1 else "event"


def object_records(objects: list[dict]) -> list[dict]:
    return [{"index": i, "shape": o["shape"], "size": o["size"], "color": o["color"], "material": o["material"],
             "position": [int(v) for v in o["position"]], "rotation": float(o.get("rotation", 0.0)),
             "visible": is_visible(o["position"])} for i, o in enumerate(objects)]


def _check(ctx: StepContext, width: int, height: int, objects: int, visible: tuple[int, int],
           transformations: tuple[int, int], views: list[str], attributes: list[str]) -> None:
    if width < 64 or height < 48:
        raise UsageError(f"render_trance: image size {width}x{height} is under 64x48")
    if not 1 <= visible[0] <= visible[1] <= objects:
        raise UsageError(f"render_trance: visible: expected [min, max] within 1..objects ({objects}), got {list(visible)}")
    if not 1 <= transformations[0] <= transformations[1] <= 8:
        raise UsageError(f"render_trance: transformations: expected [min, max] within 1..8, got {list(transformations)}")
    bad = [v for v in views if v not in tr.VIEWS]
    if bad or not views:
        raise UsageError(f"render_trance: views: expected some of {', '.join(tr.VIEWS)}, got {views}")
    bad = [a for a in attributes if a not in ATTRIBUTES]
    if bad or not attributes:
        raise UsageError(f"render_trance: attributes: expected some of {', '.join(ATTRIBUTES)}, got {attributes}")


@step("render_trance", expands=True)
def render_trance(rows: list[dict], ctx: StepContext, *, width: PositiveInt = 320, height: PositiveInt = 240,
                  objects: PositiveInt = 10, visible: tuple[int, int] = (1, 10),
                  transformations: tuple[int, int] = (1, 4), views: list[str] | None = None,
                  attributes: list[str] | None = None, view_angle: float = 45.0, camera_jitter: float = 0.5,
                  shadows: bool = True, max_tries: PositiveInt = 20,
                  sequence_tries: PositiveInt = 5) -> Iterator[dict | Reject]:
    """Sample, check and draw each numbered sample (rows of the release reader pass through);
    one row per final view in ``views`` (see the module docstring)."""
    from r1data.render3d import png_bytes

    views = list(views or tr.VIEWS)
    attributes = list(attributes or ATTRIBUTES)
    _check(ctx, width, height, objects, visible, transformations, views, attributes)
    need = tr.min_pixels(width, height)
    need_small = tr.min_pixels(width // CHECK_SCALE, height // CHECK_SCALE)
    for row in rows:
        if "sample_index" not in row:          # a row of the release reader: already drawn
            yield row
            continue
        rng = record_rng(ctx.seed, "trance", row["sample_index"])
        found = None
        for _ in range(max_tries):
            n_vis = int(rng.integers(visible[0], visible[1] + 1))
            state = initial_state(rng, objects, n_vis)
            if state is None:
                ctx.stats.count("trance_retry_layout")
                continue
            rig = tr.make_rig(rng, view_angle, camera_jitter)
            first = tr.render_views(state, rig, ("center",), width, height, shadows)["center"]
            shown = {i for i, o in enumerate(state) if is_visible(o["position"])}
            transformable = shown - set(tr.hidden(first, sorted(shown), need))
            n = int(rng.integers(transformations[0], transformations[1] + 1))
            for _ in range(sequence_tries):
                seq = sample_transformations(rng, state, n, transformable, tuple(attributes))
                if seq is None:
                    ctx.stats.count("trance_retry_sequence")
                    break
                final = state
                for t in seq:
                    final = apply(final, t)
                must_show = transformed_in_view(state, seq)
                small = tr.render_views(final, rig, tuple(tr.VIEWS), width // CHECK_SCALE, height // CHECK_SCALE,
                                        shadows=False)
                if any(tr.hidden(r, must_show, need_small) for r in small.values()):
                    ctx.stats.count("trance_retry_hidden")
                    continue
                found = (state, rig, first, seq, final)
                break
            if found:
                break
        if found is None:
            yield Reject(row, "no_sample", f"{row['id']}: no valid sample in {max_tries} tries")
            continue
        state, rig, first, seq, final = found
        renders = tr.render_views(final, rig, tuple(views), width, height, shadows)
        ctx.stats.count("samples")
        ctx.stats.count(f"samples_{len(seq)}_transformations")
        init_png = png_bytes(first.image)
        base = {"source": "procedural", "width": width, "height": height, "objects": object_records(state),
                "final_objects": object_records(final), "transformations": seq, "n_transformations": len(seq),
                "question": question_text(state), "answer": answer_text(seq)}
        for view in views:
            r = renders[view]
            missing = tr.hidden(r, transformed_in_view(state, seq), need)
            if missing:      # the small pass said visible; at full size it is under the threshold
                ctx.stats.count("trance_hidden_full_size")
                yield Reject({**row, "id": f"{row['sample_id']}-{view[0].upper()}"}, "transformed_object_hidden",
                             f"objects {missing} show fewer than {need} pixels from the {view} camera")
                continue
            cams = [rig.camera("center", width, height).to_record(), rig.camera(view, width, height).to_record()]
            yield {**row, **base, "id": f"{row['sample_id']}-{view[0].upper()}", "final_view": view,
                   "setting": setting_of(view, len(seq)), "images": [init_png, png_bytes(r.image)],
                   "cameras": cams}
