"""`fashion-edge`: one group; each command imports its heavy dependencies (TensorFlow, matplotlib) itself."""

from __future__ import annotations

import importlib

import click

from . import __version__

# command name -> "module:attribute"; loaded lazily so `fashion-edge --help` and `bench` need no TensorFlow.
COMMANDS = {
    "train": "fashion_edge.train.cli:train_command",
    "convert": "fashion_edge.convert.cli:convert_command",
    "report": "fashion_edge.convert.report_cli:report_command",
    "bench": "fashion_edge.benchmarks.cli:bench_group",
    "classify": "fashion_edge.edge.cli:classify_command",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name].split(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            # A command whose extra is not installed is reported when run, not crashed on at --help.
            reason = str(e)

            @click.command(name, help=f"(unavailable: {reason})")
            def unavailable() -> None:
                raise click.ClickException(f"`fashion-edge {name}` is unavailable here: {reason}")

            return unavailable


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="fashion-edge")
def main() -> None:
    """Train a Fashion-MNIST CNN, quantize it to TFLite, report, benchmark and classify on the edge."""
