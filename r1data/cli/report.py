"""``r1data report``: one static HTML page with a build's figures and its rows drawn."""

from __future__ import annotations

from pathlib import Path

import click

from r1data.cli import workspace_option


@click.command("report")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="The HTML file to write. [default: NAME-report.html beside the build folder]")
@click.option("--samples", type=click.IntRange(min=0), default=24, show_default=True,
              help="Rows drawn per split (spread over the corpus's question types, tasks or categories).")
@click.option("--split", help="Only this split, in the gallery and the figures. [default: every split]")
@click.option("--rejects", "reject_examples", type=click.IntRange(min=0), default=3, show_default=True,
              help="Rejected records drawn per step and reason.")
@click.option("--max-image-side", type=click.IntRange(min=0), default=768, show_default=True,
              help="Images larger than this are stored smaller in the page (0: as they are).")
@workspace_option
def report_cmd(out: str, output: str | None, samples: int, split: str | None, reject_examples: int,
               max_image_side: int, workspace: str | None) -> None:
    """An offline HTML page: a build's rows drawn, its figures and rejects.

    Overview (rows, steps, checks, cost,
    image sizes and frames, the spec), Gallery (a fixed sample of rows drawn by the corpus's
    drawer: boxes, points, masks, 3D boxes on the views, frame strips, boards), Figures
    (distributions that show bias) and Rejects (counts by step and reason, with examples).

    Images are inlined: the file opens offline in any browser and can be attached to an issue.

    \b
    r1data report out/vqa_verify -o report.html
    r1data report out/longvideo --samples 48 --split test
    """
    from r1data.assets import Assets
    from r1data.report.page import build_report

    Assets.from_workspace(workspace)      # a workspace's plugins/*.py register their drawers
    path = Path(output) if output else Path(out).resolve().parent / f"{Path(out).resolve().name}-report.html"
    result = build_report(out, path, samples=samples, split=split, reject_examples=reject_examples,
                          max_image_side=max_image_side)
    click.echo(f"wrote {result.path} ({result.bytes / 1e6:.1f} MB, {result.cards} rows drawn, "
               f"{result.seconds:.1f} s)")
    for e in result.draw_errors[:5]:
        click.echo(f"warning: could not draw {e}", err=True)
    if len(result.draw_errors) > 5:
        click.echo(f"warning: ... and {len(result.draw_errors) - 5} more rows not drawn", err=True)
