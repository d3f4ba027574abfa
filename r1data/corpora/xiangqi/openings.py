"""``xiangqi_openings``: how varied the corpus's games are, for the manifest.

A pass-through step in the main process (stateful: it sees every game once, in order) that
counts the games and the distinct positions reached after a few plies (``plies``). Self-play
opens with random moves so that games part early; these figures show whether they do. The
manifest's ``steps`` entry gets a ``summary``: games, distinct positions after each ply count
and their share of the games; ``dedup``'s entry holds the duplicate rate of the positions.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from r1data.errors import UsageError
from r1data.steps.base import StepContext, step

GAMES = "openings_games"
DISTINCT = "openings_distinct_after_ply_"


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


@step("xiangqi_openings", stateful=True)
class Openings:
    """Count games and the distinct positions after ``plies`` half-moves (rows pass unchanged)."""

    def __init__(self, ctx: StepContext, *, plies: list[int] = [2, 4, 8]):  # noqa: B006 - pydantic copies it
        if not plies or any(p < 0 for p in plies):
            raise UsageError(f"plies: expected a list of ply counts >= 0, got {plies}")
        self.ctx = ctx
        self.seen: dict[int, set[int]] = {int(p): set() for p in plies}
        self.last_game: str | None = None
        self.unsaved: list[int] = []      # (ply, hash) pairs not yet in the state file
        self.saved = 0

    def __call__(self, rows: list[dict]) -> Iterator[dict]:
        stats = self.ctx.stats
        for row in rows:
            game = row.get("game_id")
            if game != self.last_game:
                self.last_game = game
                stats.count(GAMES)
            seen = self.seen.get(row.get("ply", -1))
            if seen is not None:
                h = _hash(row.get("fen_position") or row["fen"])
                if h not in seen:
                    seen.add(h)
                    self.unsaved += [row["ply"], h]
                    stats.count(f"{DISTINCT}{row['ply']}")
            yield row

    @staticmethod
    def summarize(stats: dict, counters: dict) -> dict:
        """Games, distinct positions after each ply count, and their share of the games."""
        games = int(counters.get(GAMES, 0))
        distinct = {int(k[len(DISTINCT):]): int(v) for k, v in counters.items() if k.startswith(DISTINCT)}
        return {"games": games,
                "distinct_positions_after_plies": {str(k): distinct[k] for k in sorted(distinct)},
                "distinct_share_of_games": {str(k): round(distinct[k] / games, 4) if games else None
                                            for k in sorted(distinct)}}

    # -- checkpoint state: an append-only file of (ply, hash) pairs, cut back on resume -----
    def save_state(self, folder: Path) -> dict:
        path = folder / "openings.u64"
        if self.unsaved:
            with open(path, "ab") as f:
                f.write(np.asarray(self.unsaved, dtype=np.uint64).tobytes())
                f.flush()
                os.fsync(f.fileno())
            self.saved += len(self.unsaved) // 2
            self.unsaved = []
        return {"pairs": self.saved, "last_game": self.last_game}

    def load_state(self, folder: Path, info: dict) -> None:
        path = folder / "openings.u64"
        pairs = int(info.get("pairs", 0))
        data = np.fromfile(path, dtype=np.uint64, count=2 * pairs) if pairs else np.zeros(0, np.uint64)
        if len(data) != 2 * pairs:
            raise RuntimeError(f"{path}: holds {len(data) // 2} openings, the checkpoint says {pairs}")
        with open(path, "ab") as f:     # drop what was written after the checkpoint
            f.truncate(2 * pairs * 8)
        for ply, h in data.reshape(-1, 2).tolist():
            self.seen.setdefault(int(ply), set()).add(int(h))
        self.saved = pairs
        self.unsaved = []
        self.last_game = info.get("last_game")
