"""``split``: assign each row to a split by hashing a group key."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from r1data.errors import UsageError
from r1data.steps.base import NonNegativeFloat, StepContext, step


@step("split")
class Split:
    """Put each row in a split by a hash of its ``by`` field and the seed.

    Rows sharing ``by`` (a scene, a game, a video) always land in the same split, so nothing
    leaks between train and test. The assignment is stateless: a resumed build agrees.
    """

    def __init__(self, ctx: StepContext, *, by: str = "id",
                 ratios: dict[str, NonNegativeFloat] | None = None):
        ratios = ratios or {"train": 1.0}
        if any(r < 0 for r in ratios.values()) or abs(sum(ratios.values()) - 1.0) > 1e-6:
            raise UsageError(f"ratios must be >= 0 and sum to 1, got {ratios}")
        for name in ratios:
            if not name.replace("_", "").isalnum():
                raise UsageError(f"split name {name!r} must be letters, digits and _")
        self.by = by
        self.seed = ctx.seed
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

    def __call__(self, rows: list[dict]) -> Iterator[dict]:
        for row in rows:
            row["split"] = self.split_of(row.get(self.by))
            yield row
