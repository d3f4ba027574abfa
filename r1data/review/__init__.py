"""Human review in Label Studio: push a sample with pre-annotations, pull verdicts, merge.

``r1data review push OUT --project NAME`` and ``r1data review pull OUT --project NAME`` (see
docs/review.md). From Python::

    from r1data.review import load_reviews, reviewed_table
    load_reviews("out/scene30k")                 # every review (Arrow table)
    reviewed_table("out/scene30k", "train")      # the split with rejects out, fixes in

The labeling config is derived from the corpus schema (:mod:`r1data.review.layout`); the
shards are never modified (:mod:`r1data.review.store`, :mod:`r1data.review.merge`).
"""

from r1data.review.merge import review_summary, reviewed_table
from r1data.review.store import load_reviews

__all__ = ["load_reviews", "review_summary", "reviewed_table"]
