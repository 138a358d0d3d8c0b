"""`fashion-edge`: one group; each command imports its heavy dependencies (TensorFlow, matplotlib) itself."""

from __future__ import annotations

import click

from . import __version__
from .options import LazyGroup

# command name -> "module:attribute"; loaded lazily so `fashion-edge --help` and `bench` need no TensorFlow.
COMMANDS = {
    "train": "fashion_edge.train.cli:train_command",
    "convert": "fashion_edge.convert.cli:convert_command",
    "report": "fashion_edge.convert.report_cli:report_command",
    "parity": "fashion_edge.convert.parity_cli:parity_keras_command",
    "bench": "fashion_edge.benchmarks.cli:bench_group",
    "classify": "fashion_edge.edge.cli:classify_command",
}


@click.group(cls=LazyGroup, lazy_commands=COMMANDS)
@click.version_option(__version__, prog_name="fashion-edge")
def main() -> None:
    """Train a Fashion-MNIST CNN, quantize it to TFLite, report, benchmark and classify on the edge."""
