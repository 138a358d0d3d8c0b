"""The edge install carries no TensorFlow: every module of fashion_edge.edge and fashion_edge.benchmarks, and the
`fashion-edge` group's help, must import with TensorFlow, Keras and tf-keras made unimportable."""

from __future__ import annotations

import subprocess
import sys

from helpers import BLOCK_TENSORFLOW

IMPORT_ALL = """
import importlib, pkgutil
import fashion_edge.edge, fashion_edge.benchmarks
names = []
for package in (fashion_edge.edge, fashion_edge.benchmarks):
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(package.__name__ + "." + info.name)
        names.append(info.name)
from click.testing import CliRunner
from fashion_edge.cli import main
result = CliRunner().invoke(main, ["bench", "--help"])
assert result.exit_code == 0 and "merge" in result.output, result.output
assert not any(m.split(".")[0] in ("tensorflow", "keras") for m in sys.modules)
print(" ".join(sorted(names)))
"""


def test_edge_and_benchmarks_import_without_tensorflow():
    code = BLOCK_TENSORFLOW + IMPORT_ALL
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "TF IMPORT ATTEMPTED" not in result.stderr, result.stderr
    imported = set(result.stdout.split())
    assert {"runtime", "preprocess", "classifier", "sources", "cli", "serve", "doctor", "parity"} <= imported
    assert {"latency", "memory", "report"} <= imported
