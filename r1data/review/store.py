"""The ``reviews`` table: ``OUT/reviews/reviews.arrow``, one row per reviewer's annotation.

Columns: ``id`` (the corpus row), ``verdict`` (accept | reject | fixed), ``corrected`` (JSON of
the fields the reviewer changed, in the schema's types; masks as base64 PNG), ``reviewer``,
``reviewed_at``, ``task_id``, ``project`` and ``annotation_id``. The shards are never touched.

A pull *upserts*: an annotation seen again replaces its row (keyed by project and annotation
id), and rows from earlier pulls that the server no longer has are kept, so deleting a
project or resetting a server loses no review.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

REVIEWS_DIR = "reviews"
REVIEWS_FILE = "reviews.arrow"
REVIEWS_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("verdict", pa.string()),
    ("corrected", pa.string()),
    ("reviewer", pa.string()),
    ("reviewed_at", pa.timestamp("us", tz="UTC")),
    ("task_id", pa.int64()),
    ("project", pa.string()),
    ("annotation_id", pa.int64()),
])


def _corpus_path(corpus: Any) -> Path:
    return Path(getattr(corpus, "path", corpus))


def reviews_path(corpus: Any) -> Path:
    return _corpus_path(corpus) / REVIEWS_DIR / REVIEWS_FILE


def load_reviews(corpus: Any) -> pa.Table:
    """Every review pulled into ``corpus`` (a :class:`~r1data.corpus.Corpus` or its folder);
    an empty table with the reviews schema when there is none."""
    path = reviews_path(corpus)
    if not path.exists():
        return REVIEWS_SCHEMA.empty_table()
    with pa.memory_map(str(path)) as src:
        return pa.ipc.open_file(src).read_all()


def save_reviews(corpus: Any, new: pa.Table, project: str) -> dict[str, int]:
    """Upsert ``new`` (rows of ``project``); returns counts ``added``, ``updated``, ``kept``."""
    old = load_reviews(corpus)
    new = new.cast(REVIEWS_SCHEMA)
    new_keys = set(new.column("annotation_id").to_pylist())
    same_project = pc.equal(old.column("project"), project)
    replaced = pc.and_(same_project, pc.is_in(old.column("annotation_id"), pa.array(list(new_keys), pa.int64())))
    replaced = pc.fill_null(replaced, False)
    kept = old.filter(pc.invert(replaced))
    merged = pa.concat_tables([kept, new]).sort_by([("project", "ascending"), ("id", "ascending"),
                                                     ("reviewed_at", "ascending")])
    path = reviews_path(corpus)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, REVIEWS_SCHEMA) as writer:
        writer.write_table(merged)
    os.replace(tmp, path)   # readers never see half a file
    n_replaced = int(pc.sum(replaced.cast(pa.int64())).as_py() or 0)
    return {"added": new.num_rows - n_replaced, "updated": n_replaced,
            "kept": int(pc.sum(same_project.cast(pa.int64())).as_py() or 0) - n_replaced}
