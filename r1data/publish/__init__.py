"""Publishing a build to the Hugging Face Hub: Parquet in the Hub's layout plus a dataset card.

:func:`prepare` writes exactly what would be uploaded into a folder (``--dry-run DIR`` keeps it);
:func:`r1data.publish.hub.upload_folder` commits that folder.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1data.assets import Assets
from r1data.corpus import Corpus
from r1data.errors import R1DataError, UnknownNameError, UsageError
from r1data.publish.card import render_card
from r1data.publish.parquet import SplitFiles, ipc_batches, write_split
from r1data.yamlio import load_yaml


@dataclass
class Prepared:
    folder: Path
    splits: dict[str, SplitFiles]
    readme: Path
    corpus: str = ""

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.splits.values())


def check_repo_id(repo_id: str) -> str:
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(parts) or any(c.isspace() for c in repo_id):
        raise UsageError(f"--repo {repo_id!r}: expected ORG/NAME (for example my-lab/scene30k-r1)")
    return repo_id


def spec_card(corpus: Corpus, assets: Assets) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The corpus spec's ``card:`` section, its file name, and the whole raw spec ({} if not found)."""
    try:
        path = assets.find("pipelines", corpus.name)
    except UnknownNameError:
        return {}, "pipeline spec", {}
    data, _ = load_yaml(path)
    card = data.get("card") or {}
    if not isinstance(card, dict):
        raise UsageError(f"{path}: card: expected a mapping, got {type(card).__name__}")
    return card, str(path), data


def prepare(out: str | Path, folder: str | Path, *, repo_id: str, assets: Assets | None = None,
            reviewed: bool = False, max_shard_mb: float = 500.0) -> Prepared:
    """Convert the build in ``out`` to Parquet + README.md in ``folder`` (emptied first).

    ``reviewed`` applies the human review verdicts (rejected rows dropped, corrections merged)
    and refuses a corpus with no reviews. A build whose shards differ from their manifest
    checksums is refused.
    """
    assets = assets or Assets.from_workspace(None)
    corpus = Corpus(out)
    problems = corpus.verify_checksums()
    if problems:
        raise R1DataError(f"{out}: refusing to publish, shards differ from manifest.json: "
                          f"{'; '.join(problems[:3])}{' ...' if len(problems) > 3 else ''}")
    card, card_file, raw_spec = spec_card(corpus, assets)
    folder = Path(folder)
    if folder.exists():
        if folder.is_file() or (any(folder.iterdir()) and not (folder / "README.md").exists()):
            raise UsageError(f"{folder} exists and is not an earlier dry run; choose an empty folder")
        shutil.rmtree(folder)
    data_dir = folder / "data"
    review_text = None
    splits: dict[str, SplitFiles] = {}
    if reviewed:
        try:
            from r1data.review import load_reviews, reviewed_table  # type: ignore[attr-defined]
            from r1data.review.merge import review_summary  # type: ignore[import-not-found]
        except ImportError as e:
            raise UsageError(f"--reviewed needs the review module ({e})") from None
        if len(load_reviews(corpus)) == 0:
            raise UsageError(f"{out} has no reviews; run `r1data review push` and `pull` first, "
                             "or push without --reviewed")
        review_text = review_summary(corpus)
    for split in corpus.splits:
        if reviewed:
            table = reviewed_table(corpus, split)
            batches = table.to_batches()
            schema = table.schema
        else:
            batches = ipc_batches(corpus.files(split))
            schema = corpus.schema
        splits[split] = write_split(split, batches, schema, data_dir, max_shard_mb=max_shard_mb)
    if review_text is None:
        review_text = _review_summary_if_any(corpus)
    if raw_spec.get("paper") and "paper" not in corpus.manifest.get("spec", {}):
        corpus.manifest.setdefault("spec", {})["paper"] = raw_spec["paper"]
    if raw_spec.get("license"):
        corpus.manifest.setdefault("spec", {})["license"] = raw_spec["license"]
    text = render_card(corpus, assets, splits, repo_id=repo_id, spec_card=card, spec_file=card_file,
                       review=review_text)
    readme = folder / "README.md"
    readme.write_text(text)
    return Prepared(folder, splits, readme, corpus.name)


def _review_summary_if_any(corpus: Corpus) -> str | None:
    try:
        from r1data.review.merge import review_summary  # type: ignore[import-not-found]
    except ImportError:
        return None
    return review_summary(corpus) or None
