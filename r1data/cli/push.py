"""``r1data push``: a build to the Hugging Face Hub as Parquet with a dataset card."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from r1data.cli import workspace_option


@click.command("push")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--repo", "repo_id", required=True, help="Dataset repository on the Hub, ORG/NAME.")
@click.option("--private", is_flag=True, help="Create the repository private (if it does not exist yet).")
@click.option("--revision", help="Branch to commit to (created if missing). [default: main]")
@click.option("--reviewed", is_flag=True,
              help="Publish the reviewed corpus: rows people rejected dropped, their corrections applied.")
@click.option("--dry-run", "dry_run", type=click.Path(file_okay=False),
              help="Write what would be uploaded (README.md, data/*.parquet) into this folder; upload nothing.")
@click.option("--max-shard-mb", type=float, default=500.0, show_default=True,
              help="Target size of one Parquet file (the Hub's viewer reads files up to a few hundred MB).")
@workspace_option
def push_cmd(out: str, repo_id: str, private: bool, revision: str | None, reviewed: bool,
             dry_run: str | None, max_shard_mb: float, workspace: str | None) -> None:
    """Publish the build in OUT to the Hub so that `load_dataset("ORG/NAME")` loads it.

    Shards become Parquet files data/<split>-XXXXX-of-YYYYY.parquet (images embedded) and
    README.md is rendered from datasets_cards/<corpus>.md: features, splits and sizes, the
    spec and its hash, annotators and prompts, verifier pass rates, review coverage, token
    cost, column statistics, an example row and the paper's citation. The token comes from
    HF_TOKEN or `hf auth login`; HF_ENDPOINT points the client at another Hub.

    \b
    r1data push out/scene30k --repo my-lab/scene30k-r1 --dry-run /tmp/preview
    r1data push out/scene30k --repo my-lab/scene30k-r1 --private
    """
    from r1data.assets import Assets
    from r1data.publish import check_repo_id, prepare
    from r1data.publish.hub import hub_token, upload_folder

    check_repo_id(repo_id)
    assets = Assets.from_workspace(workspace, plugins=False)  # reads declared files only
    if dry_run:
        prepared = prepare(out, dry_run, repo_id=repo_id, assets=assets, reviewed=reviewed,
                           max_shard_mb=max_shard_mb)
        _describe(prepared, f"dry run: wrote what would be uploaded to {repo_id} into {prepared.folder}")
        return
    hub_token()   # fail before converting anything
    with tempfile.TemporaryDirectory(prefix="r1data-push-") as tmp:
        prepared = prepare(out, Path(tmp) / "repo", repo_id=repo_id, assets=assets, reviewed=reviewed,
                           max_shard_mb=max_shard_mb)
        _describe(prepared, f"uploading to {repo_id}")
        result = upload_folder(prepared.folder, repo_id, private=private, revision=revision,
                               message=f"Upload {prepared.corpus} ({prepared.rows:,} rows) with r1data")
    click.echo(f"pushed {repo_id}@{result.revision} in {len(result.commits)} commit(s): {result.url}")


def _describe(prepared, header: str) -> None:  # type: ignore[no-untyped-def]
    click.echo(header)
    for name, s in prepared.splits.items():
        size = s.download_bytes / 1e6
        click.echo(f"  {name:<12} {s.rows:>9,} rows  {len(s.files)} file(s)  {size:,.1f} MB")
    click.echo(f"  README.md    {prepared.readme.stat().st_size:,} bytes")
