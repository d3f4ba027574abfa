"""``split``: keep the split a source gave a row, else assign one by hashing a group key."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from r1data.errors import UsageError
from r1data.steps.base import NonNegativeFloat, Reject, StepContext, step

# the names released datasets use for their evaluation splits -> the Hugging Face names
SOURCE_SPLIT_NAMES = {"val": "validation", "valid": "validation", "dev": "validation"}


def _check_name(name: str) -> bool:
    return bool(name) and name.replace("_", "").isalnum()


@step("split")
class Split:
    """Put each row in a split.

    A row that arrives with a ``split`` (a real-data reader sets the dataset's own: EarthReason's
    train/val/test, ScanQA's train/val, RefCOCO's testA...) keeps it when ``keep_source`` is on
    (the default), renamed by ``source_names`` (``val`` -> ``validation``), so a published
    evaluation set is rebuilt as published. Every other row goes by a hash of its ``by`` field
    and the seed: rows sharing ``by`` (a scene, a game, a video) always land in the same split,
    so nothing leaks between train and test. The assignment is stateless: a resumed build agrees.
    """

    def __init__(self, ctx: StepContext, *, by: str = "id",
                 ratios: dict[str, NonNegativeFloat] | None = None, keep_source: bool = True,
                 source_names: dict[str, str] | None = None):
        ratios = ratios or {"train": 1.0}
        if any(r < 0 for r in ratios.values()) or abs(sum(ratios.values()) - 1.0) > 1e-6:
            raise UsageError(f"ratios must be >= 0 and sum to 1, got {ratios}")
        names = SOURCE_SPLIT_NAMES if source_names is None else source_names
        for name in [*ratios, *names.values()]:
            if not _check_name(name):
                raise UsageError(f"split name {name!r} must be letters, digits and _")
        self.by = by
        self.seed = ctx.seed
        self.keep_source = keep_source
        self.source_names = dict(names)
        self.bounds: list[tuple[float, str]] = []
        acc = 0.0
        for name, r in ratios.items():
            acc += r
            self.bounds.append((acc, name))

    def split_of(self, key: object) -> str:
        digest = hashlib.blake2b(repr((self.seed, key)).encode(), digest_size=8).digest()
        u = int.from_bytes(digest, "little") / 2**64
        for bound, name in self.bounds:
            if u < bound:
                return name
        return self.bounds[-1][1]

    def __call__(self, rows: list[dict]) -> Iterator[dict | Reject]:
        for row in rows:
            given = row.get("split")
            if self.keep_source and given:
                name = self.source_names.get(str(given), str(given))
                if not _check_name(name):
                    yield Reject(row, "bad_source_split", f"split {given!r} is not letters, digits and _")
                    continue
                row["split"] = name
            else:
                row["split"] = self.split_of(row.get(self.by))
            yield row
