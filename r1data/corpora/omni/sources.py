"""The omni sources: procedural audio-visual videos (the embedded default) and the released datasets
Omni-R1 trains on, RefAVS and ReVOS/MeVIS (``readers.py``)."""

from __future__ import annotations

from collections.abc import Iterator

from r1data.corpora.omni.scene import make_av_script
from r1data.errors import UsageError
from r1data.steps.base import Source, StepContext, source


@source("procedural_av_videos")
class ProceduralAVVideos(Source):
    """Endless procedural audio-visual videos; video ``i`` is a pure function of the seed and ``i``:
    objects that enter, move, meet, push and leave, each with its own sound heard 1-3 times while it
    is on screen (:func:`r1data.corpora.omni.scene.make_av_script`)."""

    def __init__(self, ctx: StepContext, *, duration: float = 40.0, objects: tuple[int, int] = (3, 5)):
        if not 10 <= duration <= 3600:
            raise UsageError(f"duration: expected 10 to 3600 seconds, got {duration}")
        if not 3 <= objects[0] <= objects[1] <= 7:
            raise UsageError(f"objects: expected [min, max] with 3 <= min <= max <= 7 (one sound each), "
                             f"got {list(objects)}")
        self.ctx = ctx
        self.duration = duration
        self.objects = objects

    def read(self, start: int = 0) -> Iterator[dict]:
        i = start
        while True:
            rng = self.ctx.rng("video", i)
            vid = f"av{i:07d}"
            n = int(rng.integers(self.objects[0], self.objects[1] + 1))
            yield {"id": vid, "video_id": vid, "av_script": make_av_script(rng, vid, self.duration, n),
                   "source": "procedural"}
            i += 1
