"""Click helpers shared by the fashion-edge commands, so each reads and behaves the same everywhere.

A leaf (click and the project's error type only): shared options, the one adapter from FashionEdgeError to a
one-line click error, stdout that reports a full disk or closed pipe in one line, the lazy command loader behind
`fashion-edge` and `edge-classify`'s subcommands, and the progress bar.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click

from .errors import FashionEdgeError

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory with the four Fashion-MNIST IDX .gz files (default: search, see README).",
)


def out_dir_option(default: str, holds: str) -> Callable:
    """`--out DIR` (stored as `out_dir`), defaulting to `default`; `holds` says what the directory receives."""
    return click.option(
        "--out",
        "out_dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=Path(default),
        show_default=True,
        help=f"Directory for {holds}.",
    )


def echo_stdout(line: str) -> None:
    """One line of results to stdout; a full disk or closed pipe there is FashionEdgeError, not a traceback."""
    try:
        click.echo(line)
    except OSError as e:
        _stdout_failed(e)


def flush_stdout() -> None:
    """Results still buffered reach stdout now, where an error can be reported, not at interpreter exit."""
    try:
        sys.stdout.flush()
    except OSError as e:
        _stdout_failed(e)


def _stdout_failed(error: OSError) -> None:
    # what is still buffered can never be written: send it to /dev/null so the exit does not fail a second time
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    raise FashionEdgeError(f"cannot write to standard output: {error.strerror or error}") from error


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """FashionEdgeError -> click.ClickException: one line, exit 1, no traceback. A context manager or decorator."""
    try:
        yield
    except FashionEdgeError as e:
        raise click.ClickException(str(e)) from e


def load_command(name: str, target: str, prog: str) -> click.Command:
    """The click command at `target` ("module:attribute"), imported now. A command whose extra is not installed
    becomes one that says so when run (and shows it in --help), instead of a crash."""
    module, attr = target.split(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        reason = str(e)

        @click.command(name, help=f"(unavailable: {reason})")
        def unavailable() -> None:
            raise click.ClickException(f"`{prog} {name}` is unavailable here: {reason}")

        return unavailable


class LazyGroup(click.Group):
    """A group whose subcommands (`lazy_commands`: name -> "module:attribute") are imported only when used."""

    def __init__(self, *args, lazy_commands: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.lazy_commands)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.lazy_commands:
            return None
        return load_command(name, self.lazy_commands[name], ctx.command_path)


def progress_bar(label: str, total: int):
    """A progress bar on stderr, so stdout stays clean for tables and JSON."""
    return click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True)
