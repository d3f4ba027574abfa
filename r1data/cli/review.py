"""``r1data review push`` / ``r1data review pull``: human review in Label Studio."""

from __future__ import annotations

import click

URL_HELP = "Label Studio's address. [env: LABEL_STUDIO_URL; default http://localhost:8080]"


@click.group("review")
def review_group() -> None:
    """Human review in Label Studio: push a sample with pre-annotations, pull the verdicts.

    \b
    scripts/label-studio.sh                      start a local server; it prints URL and token
    export LABEL_STUDIO_URL=... LABEL_STUDIO_API_KEY=...
    r1data review push out/scene30k --project scene30k-qa --sample 200
    r1data review pull out/scene30k --project scene30k-qa
    r1data inspect out/scene30k                  coverage, verdicts, agreement

    The labeling config is derived from the corpus schema. Shards are never modified:
    reviews go to OUT/reviews/, and r1data.review.reviewed_table(OUT, split) applies them.
    """


@review_group.command("push")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--project", required=True, help="Label Studio project title (created if missing).")
@click.option("--sample", type=int, help="Review N rows, picked by a hash of --seed and the row id "
                                          "(a bigger N keeps the rows already picked). [default: 100 "
                                          "without --where]")
@click.option("--where", help="DuckDB SQL condition over the view `data`, e.g. \"question_type = 'relation'\".")
@click.option("--split", help="Only rows of this split.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --sample.")
@click.option("--url", help=URL_HELP)
@click.option("--media-root", type=click.Path(file_okay=False),
              help="The server's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT: images are written there and served "
                   "as local files instead of travelling inside the tasks. Needed for local videos.")
@click.option("--dry-run", is_flag=True, help="Print the labeling config and the task count; send nothing.")
def push_cmd(out: str, project: str, sample: int | None, where: str | None, split: str | None, seed: int,
             url: str | None, media_root: str | None, dry_run: bool) -> None:
    """Send rows of a build to a Label Studio project, the pipeline's output as pre-annotations.

    Pushing again adds only rows not yet in the project (tasks are keyed by row id) and
    brings the project's labeling config up to date with the schema.
    """
    from tqdm import tqdm

    from r1data.corpus import Corpus
    from r1data.review.client import LabelStudioProject
    from r1data.review.media import Media
    from r1data.review.push import TaskBuilder, corpus_layout, select_rows

    corpus = Corpus(out)
    layout = corpus_layout(corpus)
    config = layout.label_config()
    if sample is None and where is None:
        sample = 100
    rows = select_rows(corpus, sample=sample, where=where, split=split, seed=seed)
    if dry_run:
        click.echo(config)
        click.echo(f"{rows.num_rows} rows selected (dry run: nothing sent)")
        return
    ls = LabelStudioProject(url)
    state = ls.create_or_update(project, config, description=f"r1data review of {corpus.name} ({out})")
    media = Media(project, corpus.path, media_root)
    if media.folder is not None:
        media.folder.mkdir(parents=True, exist_ok=True)
        ls.attach_local_storage(str(media.folder))
    existing = ls.row_ids()
    ids = rows.column("id").to_pylist() if rows.num_rows else []
    todo = [i for i, rid in enumerate(ids) if rid not in existing]
    builder = TaskBuilder(layout, media, model_version=f"r1data-{corpus.manifest['spec_hash'][:12]}")
    tasks = []
    for i in tqdm(todo, desc="tasks", unit="row", disable=len(todo) < 200, leave=False):
        tasks.append(builder.task(rows.slice(i, 1).to_pylist()[0]))
    imported = ls.import_tasks(tasks) if tasks else 0
    click.echo(f"project {project!r} (id {ls.id}, {state}) at {ls.url}: {imported} new tasks, "
               f"{len(ids) - len(todo)} already there")
    click.echo(f"review at {ls.url}/projects/{ls.id}/data, then: r1data review pull {out} --project {project!r}")


@review_group.command("pull")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--project", required=True, help="Label Studio project title.")
@click.option("--url", help=URL_HELP)
def pull_cmd(out: str, project: str, url: str | None) -> None:
    """Bring reviewers' verdicts and corrections back into OUT/reviews/ (shards untouched).

    Coordinates come back in pixels, brush strokes as masks, text as the schema's types.
    An annotation that cannot be converted is reported with its task id and skipped.
    """
    from r1data.corpus import Corpus
    from r1data.review.client import LabelStudioProject
    from r1data.review.merge import review_summary
    from r1data.review.pull import reviews_from_export
    from r1data.review.push import corpus_layout
    from r1data.review.store import reviews_path, save_reviews

    corpus = Corpus(out)
    layout = corpus_layout(corpus)
    ls = LabelStudioProject(url)
    ls.open(project)
    ls.check_config(layout.label_config())
    tasks = ls.export()
    table, report = reviews_from_export(corpus, layout, tasks, ls.users(), project)
    counts = save_reviews(corpus, table, project)
    for p in report.problems:
        click.echo(f"skipped: {p}", err=True)
    click.echo(f"{report.tasks} tasks, {report.annotations} annotations ({report.cancelled} skipped by reviewers, "
               f"{len(report.problems)} not convertible), {report.unannotated} tasks not reviewed yet")
    click.echo(f"{report.reviews} reviews -> {reviews_path(corpus)}: {counts['added']} new, "
               f"{counts['updated']} updated, {counts['kept']} kept from earlier pulls")
    summary = review_summary(corpus)
    if summary:
        click.echo(summary)
