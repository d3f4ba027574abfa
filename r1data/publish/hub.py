"""Uploading a prepared folder (README.md + data/*.parquet) to the Hugging Face Hub.

The real ``huggingface_hub`` client does the work; the endpoint is its own setting
(``HF_ENDPOINT``), which is also how the tests point it at a server on 127.0.0.1. A push is one
commit, or several when the files are larger than ``commit_bytes`` together (the Hub refuses very
large commits); the card goes in the last commit, so a reader never sees a card describing files
that are not there yet.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from r1data.errors import R1DataError, UsageError

COMMIT_BYTES = 4 * 1024**3       # data per commit
COMMIT_FILES = 100


@dataclass
class UploadResult:
    repo_id: str
    revision: str
    commits: list[str]
    url: str


def hub_token() -> str:
    """The token from ``HF_TOKEN`` or a stored ``hf auth login``; a one-line error if neither."""
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise UsageError("no Hugging Face token: set HF_TOKEN or run `hf auth login` "
                         "(a token with write access, from https://huggingface.co/settings/tokens)")
    return token


def plan_commits(files: list[tuple[str, Path]], commit_bytes: int = COMMIT_BYTES,
                 commit_files: int = COMMIT_FILES) -> list[list[tuple[str, Path]]]:
    """Group (path_in_repo, local path) pairs into commits; README.md alone closes the last one."""
    readme = [f for f in files if f[0] == "README.md"]
    data = [f for f in files if f[0] != "README.md"]
    groups: list[list[tuple[str, Path]]] = []
    current: list[tuple[str, Path]] = []
    size = 0
    for item in data:
        n = item[1].stat().st_size
        if current and (size + n > commit_bytes or len(current) >= commit_files):
            groups.append(current)
            current, size = [], 0
        current.append(item)
        size += n
    if current or not groups:
        groups.append(current)
    groups[-1].extend(readme)
    return groups


def upload_folder(folder: Path, repo_id: str, *, private: bool = False, revision: str | None = None,
                  message: str = "Upload dataset with r1data", commit_bytes: int = COMMIT_BYTES,
                  commit_files: int = COMMIT_FILES) -> UploadResult:
    """Create the dataset repo if needed and commit ``folder``'s files to ``revision``."""
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError

    token = hub_token()
    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=token)
    files = sorted((p.relative_to(folder).as_posix(), p) for p in folder.rglob("*") if p.is_file())
    groups = plan_commits(files, commit_bytes, commit_files)
    commits: list[str] = []
    try:
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if revision and revision != "main":
            api.create_branch(repo_id, repo_type="dataset", branch=revision, exist_ok=True)
        for i, group in enumerate(groups, 1):
            suffix = f" ({i}/{len(groups)})" if len(groups) > 1 else ""
            info = api.create_commit(
                repo_id, repo_type="dataset", revision=revision,
                operations=[CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(path))
                            for name, path in group],
                commit_message=message + suffix)
            commits.append(info.oid)
    except (HfHubHTTPError, ValueError) as e:
        # the client's message names the URL and the server's reason; never the token
        lines = [ln for ln in str(e).splitlines() if ln.strip()]
        raise R1DataError(f"upload to {repo_id} failed: {' '.join(lines[:2])}") from None
    return UploadResult(repo_id, revision or "main", commits, str(url))
