"""A synthetic source and a no-op step (the engine's own test and benchmark fixtures), and the
base of procedural sources that number their items."""

from __future__ import annotations

from collections.abc import Iterator

from r1data.steps.base import PositiveInt, Source, StepContext, source, step


class NumberedSource(Source):
    """Items ``0, 1, 2, ...`` (``count`` of them, or endless when ``None``): a subclass says what
    item ``i`` is, from ``i`` alone (and ``ctx.rng``), so reading from ``start`` resumes exactly."""

    count: int | None = None

    def item(self, i: int) -> dict:
        raise NotImplementedError

    def __len__(self) -> int:
        if self.count is None:
            raise TypeError("endless")
        return self.count

    def read(self, start: int = 0) -> Iterator[dict]:
        i = start
        while self.count is None or i < self.count:
            yield self.item(i)
            i += 1


@source("synthetic")
class Synthetic(Source):
    """``count`` rows (``None``: endless) of text and numbers, row ``i`` derived from the seed and ``i``."""

    def __init__(self, ctx: StepContext, *, count: PositiveInt | None = None, text_words: PositiveInt = 24):
        self.ctx = ctx
        self.count = count
        self.text_words = text_words

    def __len__(self) -> int:
        if self.count is None:
            raise TypeError("endless")
        return self.count

    def read(self, start: int = 0) -> Iterator[dict]:
        vocab = ["red", "chair", "table", "left", "of", "the", "lamp", "near", "window", "two",
                 "blue", "sofa", "behind", "bed", "on", "shelf"]
        i = start
        while self.count is None or i < self.count:
            # cheap and deterministic: no RNG object per row
            words = [vocab[(i * 7 + k * 13) % len(vocab)] for k in range(self.text_words)]
            yield {"id": f"syn-{i:09d}", "text": f"row {i}: " + " ".join(words), "value": (i * 2654435761) % 1000 / 10.0,
                   "label": i % 5, "tags": [words[0], words[1]]}
            i += 1


@step("passthrough")
def passthrough(rows: list[dict], ctx: StepContext) -> list[dict]:
    """Does nothing (a baseline for measuring the engine)."""
    return rows
