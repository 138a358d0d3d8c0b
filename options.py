"""Click options shared by the fashion-edge commands, so each reads and behaves the same everywhere."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

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


def progress_bar(label: str, total: int):
    """A progress bar on stderr, so stdout stays clean for tables and JSON."""
    return click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True)
