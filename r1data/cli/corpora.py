"""``r1data list`` and ``r1data validate``."""

from __future__ import annotations

import click

from r1data.cli import workspace_option


@click.command("list")
@click.option("--all", "show_all", is_flag=True,
              help="Also list the registered sources, steps, verifiers, filter rules, annotators.")
@workspace_option
def list_cmd(show_all: bool, workspace: str | None) -> None:
    """List the corpora this install can build, one line each."""
    from r1data.assets import Assets
    from r1data.yamlio import load_yaml

    assets = Assets.from_workspace(workspace)
    rows = []
    for name, path in assets.list("pipelines").items():
        try:
            data, _ = load_yaml(path)
            desc = " ".join(str(data.get("description", "")).split())
            size = data.get("size")
        except Exception as e:  # list what is there even if one spec is broken
            desc, size = f"(unreadable: {e})", None
        first = desc.split(". ")[0].split(": ")[0].rstrip(".")
        if len(first) > 110:     # one line each: the opening words, cut at a word
            first = first[:110].rsplit(" ", 1)[0].rstrip(",;") + " ..."
        rows.append((name, f"{size:,}" if isinstance(size, int) else "all", first))
    width = max((len(r[0]) for r in rows), default=4)
    for name, size, desc in rows:
        click.echo(f"{name:<{width}}  {size:>9} rows  {desc}")
    if show_all:
        from r1data import registry

        registry.load_builtins()
        for title, reg in (("sources", registry.sources), ("steps", registry.steps),
                           ("verifiers", registry.verifiers), ("filter rules", registry.filters),
                           ("programmatic annotators", registry.annotator_functions),
                           ("report drawers", registry.drawers)):
            click.echo(f"\n{title}: " + ", ".join(reg.names()))
        click.echo("\nannotator profiles: " + ", ".join(assets.list("annotators")))


@click.command("validate")
@click.argument("corpus")
@click.option("--source", help="Check this source of the spec instead of its default.")
@workspace_option
def validate_cmd(corpus: str, source: str | None, workspace: str | None) -> None:
    """Check a spec and its schema: every problem at once, with file, line and key."""
    from r1data.assets import Assets
    from r1data.engine.pipeline import StepRunner
    from r1data.spec import load_spec

    from r1data.errors import SpecError

    assets = Assets.from_workspace(workspace)
    resolved = load_spec(corpus, assets, source=source)
    problems: list[str] = []
    StepRunner(resolved, resolved.steps, seed=resolved.spec.seed, problems=problems)  # builds every step
    from r1data.rewards.evaluation import spec_rewards

    try:
        spec_rewards(resolved.file)   # reward names and parameters (errors name file, line, key)
    except SpecError as e:
        problems.extend(e.problems)
    if problems:
        raise SpecError.from_problems(str(resolved.file), problems)
    click.echo(f"ok: {resolved.file} ({len(resolved.steps)} steps, schema {resolved.schema.name} "
               f"with {len(resolved.schema.fields)} fields, source {resolved.source_name})")
