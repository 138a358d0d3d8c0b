"""`fashion-edge train` end to end on a tiny slice, and its answers to bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from fashion_edge.cli import main


def run(*args: str):
    return CliRunner().invoke(main, ["train", *args])


@pytest.mark.slow
def test_train_cli_end_to_end(tmp_path):
    pytest.importorskip("tensorflow")
    result = run("--profile", "quick", "--train-limit", "300", "--epochs", "1", "--seed", "7", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.output
    assert {p.name for p in tmp_path.iterdir()} == {"model.keras", "history.json", "training.json"}
    info = json.loads((tmp_path / "training.json").read_text())
    assert info["profile"] == "quick" and info["config"]["seed"] == 7 and info["config"]["epochs"] == 1


@pytest.mark.slow
def test_profile_picks_onednn_before_tensorflow_loads(tmp_path):
    """quick asks for TensorFlow's oneDNN kernels (off by default on this AVX2 VM); a fresh process must get them,
    and training.json must say what ran. In a subprocess: this test process imported TensorFlow long ago."""
    pytest.importorskip("tensorflow")
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    args = ["--profile", "quick", "--train-limit", "200", "--epochs", "1", "--out", str(tmp_path)]
    code = "import sys; from fashion_edge.cli import main; main(sys.argv[1:])"
    done = subprocess.run([sys.executable, "-c", code, "train", *args], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    info = json.loads((tmp_path / "training.json").read_text())
    assert info["config"]["onednn"] is True
    assert info["machine"]["onednn"] is True


@pytest.mark.parametrize(
    "args, message",
    [
        (["--profile", "huge"], "Invalid value for '--profile'"),
        (["--epochs", "0"], "Invalid value for '--epochs'"),
        (["--batch-size", "-1"], "Invalid value for '--batch-size'"),
    ],
)
def test_bad_options_are_usage_errors(args, message):
    result = run(*args)
    assert result.exit_code == 2 and message in result.output


def test_unwritable_out_and_missing_data_are_one_line_errors(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("--out", str(blocker / "sub"))
    assert result.exit_code == 1 and "cannot create output directory" in result.output
    assert "Traceback" not in result.output
    result = run("--profile", "nano", "--out", str(tmp_path / "n"))
    assert result.exit_code == 1 and "distils from a teacher: pass --teacher" in result.output
    result = run("--profile", "small_camera", "--out", str(tmp_path / "c"))
    assert result.exit_code == 1 and "fine-tunes a trained model: pass --init" in result.output
    (tmp_path / "m.keras").write_bytes(b"checked by name only here")
    result = run("--profile", "small_camera", "--init", str(tmp_path / "m.keras"), "--out", str(tmp_path / "c"))
    assert result.exit_code == 1 and "trains on camera inputs too: pass --extra-inputs" in result.output
    result = run("--init", str(blocker), "--out", str(tmp_path / "c"))
    assert result.exit_code == 1 and "--init" in result.output and "is not a .keras model file" in result.output
    result = run("--teacher", str(blocker), "--out", str(tmp_path / "n"))
    assert result.exit_code == 1 and "is not a .keras model file" in result.output
    result = run("--out", str(tmp_path / "o"), "--data-dir", str(tmp_path / "nowhere"))
    assert result.exit_code == 1 and "lacks" in result.output
    assert not (tmp_path / "o" / "model.keras").exists()
