"""The ``r1data`` command line: a thin dispatcher over the engine.

Each subcommand lives in its own module and is imported only when run, so ``r1data list``
does not import torch. Errors meant for people print one line (exit 2 for bad usage);
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import errno
import importlib
import sys

import click

from r1data import __version__
from r1data.errors import MissingExtraError, R1DataError

# name -> "module:attribute"; the order is the order of `r1data --help`
COMMANDS = {
    "list": "r1data.cli.corpora:list_cmd",
    "validate": "r1data.cli.corpora:validate_cmd",
    "build": "r1data.cli.build:build_cmd",
    "inspect": "r1data.cli.inspect:inspect_cmd",
    "query": "r1data.cli.inspect:query_cmd",
    "report": "r1data.cli.report:report_cmd",
    "eval": "r1data.cli.eval:eval_cmd",
    "rollout": "r1data.cli.rollout:rollout_cmd",
    "review": "r1data.cli.review:review_group",
    "push": "r1data.cli.push:push_cmd",
    "train": "r1data.cli.train:train_cmd",
}

_state = {"debug": False}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name == module:  # a command whose module is not part of this install
                return None
            raise
        return getattr(mod, attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=formatter.width - 20)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="r1data")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """r1data: build, review, publish and train on R1-style reasoning corpora.

    \b
    r1data list                      the corpora this install can build
    r1data build scene30k            generate + verify a corpus into Arrow shards
    r1data inspect out/scene30k      counts, pass rates, sample rows
    r1data query out/scene30k "SELECT question_type, count(*) FROM data GROUP BY 1"
    """
    _state["debug"] = debug


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        # not click's own main(): it turns EOFError into "Aborted!" and prints a blank line
        with cli.make_context("r1data", args) as ctx:
            rv = cli.invoke(ctx)
        return rv if isinstance(rv, int) else 0
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort:      # a prompt answered with Ctrl-C / Ctrl-D
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except R1DataError as e:
        if debug:
            raise
        click.echo(f"error: {e.message}" + (f" ({e.hint})" if e.hint else ""), err=True)
        return e.exit_code
    except ModuleNotFoundError as e:     # an optional dependency this command needs
        if debug:
            raise
        err = MissingExtraError.of(e)
        click.echo(f"error: {err.message}", err=True)
        return err.exit_code
    except KeyboardInterrupt:
        click.echo("\ninterrupted; rerun the same command to resume", err=True)
        return 130
    except OSError as e:
        if e.errno == errno.EPIPE:       # `r1data query ... | head`: the reader left
            sys.stdout = click.utils.PacifyFlushWrapper(sys.stdout)  # type: ignore[assignment]
            return 1
        if debug or e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        click.echo(f"error: disk full: {e.filename or ''} ({e.strerror}); free some space and rerun the same "
                   "command", err=True)
        return 1


def _export_workspace(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Everything the command loads by name (an eval judge's profile, a worker process) sees the
    workspace too, not only the code that receives the option."""
    import os
    from pathlib import Path

    if value and Path(value).is_dir():
        before = os.environ.get("R1DATA_WORKSPACE")
        os.environ["R1DATA_WORKSPACE"] = str(Path(value).resolve())

        def restore() -> None:   # for the command's duration only (the CLI also runs in-process)
            if before is None:
                os.environ.pop("R1DATA_WORKSPACE", None)
            else:
                os.environ["R1DATA_WORKSPACE"] = before

        ctx.call_on_close(restore)
    return value


def workspace_option(f):  # type: ignore[no-untyped-def]
    return click.option("--workspace", type=click.Path(file_okay=False), envvar="R1DATA_WORKSPACE",
                        callback=_export_workspace,
                        help="A folder with your own pipelines/, schemas/, annotators/ (and plugins/*.py) "
                             "that add to or override the shipped ones. [env: R1DATA_WORKSPACE]")(f)
