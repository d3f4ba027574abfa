"""Which rows the gallery shows: a deterministic sample, spread over a column's values.

Each row's place in the sample is the BLAKE2b hash of its id, so the same build gives the same
gallery whatever its shards, and a row keeps its place when others are added. With a group
column (question type, task, category) the sample takes turns over the groups, in order of
size, so a rare group is shown as well as a common one.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence


def id_key(row_id: object) -> bytes:
    return hashlib.blake2b(str(row_id).encode("utf-8"), digest_size=8).digest()


def sample_indices(ids: Sequence[object], n: int, groups: Sequence[object] | None = None) -> list[tuple[int, str]]:
    """``n`` row positions (with their group's name, ``""`` without groups), taking turns over
    the groups (largest first) and, within each, in order of the id's hash."""
    if n <= 0 or not ids:
        return []
    by_group: dict[str, list[tuple[bytes, int]]] = defaultdict(list)
    for i, row_id in enumerate(ids):
        g = "" if groups is None else ("" if groups[i] is None else str(groups[i]))
        by_group[g].append((id_key(row_id), i))
    for rows in by_group.values():
        rows.sort()
    order = sorted(by_group, key=lambda g: (-len(by_group[g]), g))
    out: list[tuple[int, str]] = []
    depth = 0
    while len(out) < n:
        took = False
        for g in order:
            rows = by_group[g]
            if depth < len(rows):
                out.append((rows[depth][1], g))
                took = True
                if len(out) == n:
                    break
        if not took:
            break
        depth += 1
    # shown grouped, each group in hash order
    rank = {g: k for k, g in enumerate(order)}
    out.sort(key=lambda p: (rank[p[1]], id_key(ids[p[0]])))
    return out
