"""tf.distribute training: TF_CONFIG and option checks (no TensorFlow), one replica vs two logical CPU replicas
(parity, both convert to int8), and two worker processes on 127.0.0.1 (needs tf-keras)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from fashion_edge.cli import main
from fashion_edge.errors import FashionEdgeError
from fashion_edge.train import distribute
from fashion_edge.train.distribute import DistributeOptions, parse_tf_config, plan, scale_config
from fashion_edge.train.fit import PROFILES

# Parity: the same seed and global batch on 1 replica and on 2 must end at nearly the same training loss. They are
# not bit-identical: BatchNorm normalises each replica's half batch on its own and the gradient sums change order.
PARITY_LOSS_TOLERANCE = 0.1  # absolute, on a final loss between 1 and 2 (3 epochs on 600 images)
SUBPROCESS_TIMEOUT_S = 900  # ~1 min on an idle 2-core machine; far longer when other jobs share it


def tf_config(workers: list[str], task_type: str, index: int, chief: str | None = None) -> str:
    cluster = {"worker": workers, **({"chief": [chief]} if chief else {})}
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


def test_tf_config_chief_is_worker_0_or_the_chief_task():
    two = ["10.0.0.1:2222", "10.0.0.2:2222"]
    first, second = parse_tf_config(tf_config(two, "worker", 0)), parse_tf_config(tf_config(two, "worker", 1))
    assert first.is_chief and not second.is_chief
    assert (first.worker_index, second.worker_index, second.workers) == (0, 1, tuple(two))
    chief = parse_tf_config(tf_config(two, "chief", 0, chief="10.0.0.9:2222"))
    worker0 = parse_tf_config(tf_config(two, "worker", 0, chief="10.0.0.9:2222"))
    assert chief.is_chief and not worker0.is_chief
    assert (chief.worker_index, worker0.worker_index, len(worker0.workers)) == (0, 1, 3)


@pytest.mark.parametrize(
    "text, message",
    [
        (None, "TF_CONFIG, which is not set"),
        ("{not json", "TF_CONFIG is not valid"),
        ('{"cluster": {"worker": ["a:1"]}}', "TF_CONFIG is not valid"),
        (tf_config(["a:1"], "worker", 1), "task worker 1 is not in the cluster"),
        ('{"cluster": {"worker": ["a:1"], "ps": ["b:1"]}, "task": {"type": "worker", "index": 0}}', "chief/worker"),
    ],
)
def test_bad_tf_config_is_a_clear_error(text, message):
    with pytest.raises(FashionEdgeError, match=message):
        parse_tf_config(text)


def test_option_checks(monkeypatch):
    with pytest.raises(FashionEdgeError, match="--devices"):
        plan(DistributeOptions("default", devices=2))
    monkeypatch.setattr(distribute, "_has_tf_keras", lambda: False)
    with pytest.raises(FashionEdgeError, match=r"needs tf-keras: Keras 3 .*keras-team/keras#20585"):
        plan(DistributeOptions("multi-worker"), environ={"TF_CONFIG": tf_config(["a:1"], "worker", 0)})


def test_only_the_chief_writes_into_out(tmp_path, monkeypatch):
    monkeypatch.setattr(distribute, "_has_tf_keras", lambda: True)
    workers = ["127.0.0.1:1", "127.0.0.1:2"]
    chief = plan(DistributeOptions("multi-worker"), environ={"TF_CONFIG": tf_config(workers, "worker", 0)})
    other = plan(DistributeOptions("multi-worker"), environ={"TF_CONFIG": tf_config(workers, "worker", 1)})
    out = tmp_path / "out"
    assert chief.output_dir(out) == out
    scratch = other.output_dir(out)
    assert scratch != out and scratch.is_dir() and tmp_path not in scratch.parents
    other.discard(scratch)
    assert not scratch.exists()
    out.mkdir()
    chief.discard(out)
    assert out.is_dir()


def test_batch_scaling():
    cfg = PROFILES["quick"]
    assert scale_config(cfg, 2, "fixed") == cfg
    linear = scale_config(cfg, 2, "linear")
    assert (linear.batch_size, linear.learning_rate) == (2 * cfg.batch_size, 2 * cfg.learning_rate)
    with pytest.raises(FashionEdgeError, match="multiple of 3"):
        scale_config(replace(cfg, batch_size=128), 3, "fixed")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--devices", "2"], "goes with --strategy mirrored only"),
        (["--strategy", "multi-worker"], "multi-worker"),  # no TF_CONFIG here (or no tf-keras): says which
    ],
)
def test_cli_refuses_bad_distribution_in_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


# --- real training, each run in a fresh process: logical devices and MultiWorkerMirroredStrategy must be set up
# before TensorFlow initialises, which this test process may already have done. ------------------------------------


def train_process(out: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    recipe = ["--profile", "quick", "--train-limit", "600", "--epochs", "3", "--batch-size", "32", "--seed", "3"]
    cli = [sys.executable, "-c", "from fashion_edge.cli import main; main()"]
    cmd = [*cli, "train", *recipe, "--out", str(out), *args]
    env = {**{k: v for k, v in os.environ.items() if k != "TF_CONFIG"}, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(procs: list[subprocess.Popen]) -> list[str]:
    """Wait for every process (killing all of them past the timeout); their stdout; fail with stderr's tail."""
    try:
        outputs = [p.communicate(timeout=SUBPROCESS_TIMEOUT_S) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-3000:]
    return [out for out, _ in outputs]


@pytest.mark.slow
def test_two_logical_cpu_replicas_train_like_one(tmp_path):
    pytest.importorskip("tensorflow")
    from fashion_edge.convert.tflite import convert_model

    one, two = tmp_path / "one", tmp_path / "two"
    finish([train_process(one), train_process(two, "--strategy", "mirrored", "--devices", "2")])
    runs = {}
    for out in (one, two):
        info = json.loads((out / "training.json").read_text())
        runs[out] = (info["distribution"], json.loads((out / "history.json").read_text())["loss"])
    (dist1, loss1), (dist2, loss2) = runs[one], runs[two]
    assert (dist1["replicas"], dist1["workers"], dist2["replicas"], dist2["workers"]) == (1, 1, 2, 1)
    assert dist2["global_batch_size"] == 32 and dist2["per_replica_batch_size"] == 16
    assert loss1[-1] < loss1[0] and loss2[-1] < loss2[0]  # both learn...
    assert abs(loss1[-1] - loss2[-1]) <= PARITY_LOSS_TOLERANCE  # ...the same way
    for out in (one, two):
        (int8,) = convert_model(out / "model.keras", out / "tflite", ["int8"], calibration_images=100,
                                verify_limit=500)  # fmt: skip
        # Integer-only graph (convert checks it), loaded back by LiteRT, predicting like its float model.
        assert int8.model_path.is_file() and int8.card_path.is_file()
        assert int8.agreement_with_float >= 0.8


def free_ports(count: int) -> list[int]:
    """Ports the OS reports free now (bound to port 0, then released for the workers to take)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.mark.slow
def test_two_worker_processes_train_one_model(tmp_path, fmnist):
    pytest.importorskip("tensorflow")
    pytest.importorskip("tf_keras", reason="multi-worker training needs tf-keras (pip install -e .[distributed])")
    from fashion_edge.train.keras_io import keras_logits, load_keras_model

    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    outs, worker_tmp = [tmp_path / "chief", tmp_path / "worker"], tmp_path / "worker-tmp"
    worker_tmp.mkdir()
    procs = [train_process(out, "--strategy", "multi-worker",
                           env={"TF_CONFIG": tf_config(workers, "worker", i), "TMPDIR": str(worker_tmp)})
             for i, out in enumerate(outs)]  # fmt: skip
    chief_says, worker_says = finish(procs)
    assert {p.name for p in outs[0].iterdir()} == {"model.keras", "history.json", "training.json"}
    assert not outs[1].exists() and list(worker_tmp.iterdir()) == []  # the worker left nothing anywhere
    info = json.loads((outs[0] / "training.json").read_text())
    assert (info["distribution"]["replicas"], info["distribution"]["workers"]) == (2, 2)
    assert info["distribution"]["keras"].startswith("tf_keras") and info["distribution"]["cluster"] == workers
    history = json.loads((outs[0] / "history.json").read_text())
    assert history["loss"][-1] < history["loss"][0]
    # Both processes hold the same synchronised model: they report the same validation accuracy.
    val_accuracy = chief_says.split("val accuracy ")[1].split()[0]
    assert f"(val accuracy {val_accuracy})" in worker_says
    # Keras 3 reads what tf-keras trained, and it is the model the chief evaluated.
    logits = keras_logits(load_keras_model(outs[0] / "model.keras"), fmnist.x_test)
    assert (logits.argmax(1) == fmnist.y_test).mean() == pytest.approx(info["test_accuracy"], abs=1e-4)


@pytest.mark.slow
def test_tf_keras_weights_reach_the_keras3_model(fmnist):
    """tf-keras lists a model's weights in another order than Keras 3: the copy must go layer by layer."""
    np = pytest.importorskip("numpy")
    tf_keras = pytest.importorskip("tf_keras")
    from fashion_edge.train.model import ModelConfig, build_model

    cfg = ModelConfig(stages=((8,), (16,), (16,)))
    trained = build_model(cfg, tf_keras)
    rng = np.random.default_rng(0)
    trained.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in trained.get_weights()])
    plan_ = plan(DistributeOptions())
    keras3_model = distribute.Distribution(plan_, None, tf_keras, ()).exported(trained, cfg)
    assert type(keras3_model).__module__.startswith("keras")
    images = fmnist.x_test[:64, ..., None].astype("float32")
    np.testing.assert_allclose(keras3_model.predict(images, verbose=0), trained.predict(images, verbose=0),
                               rtol=1e-4, atol=1e-4)  # fmt: skip
