"""Training on several devices or machines with tf.distribute: which strategy, which Keras, who writes.

- `default`: TensorFlow's default strategy, one device: `train()` exactly as without this module.
- `mirrored`: MirroredStrategy over every local GPU, or over `devices` logical CPU devices (for testing; they share
  the CPU's cores, so they show correctness, not speed). Keras 3.
- `multi-worker`: MultiWorkerMirroredStrategy over the cluster in TF_CONFIG (TensorFlow's format, one process per
  worker). Keras 3 cannot fit under it (keras-team/keras#20585: "Attempt to convert a value (PerReplica...) ... to a
  Tensor"), so this path builds and fits the same CNN with tf-keras (Keras 2, `pip install tf-keras`) and copies the
  trained weights into the Keras 3 model that is saved: model.keras is the same format as from the other strategies.

Global batch: `batch_size` is the global batch, split evenly over the replicas, and the learning rate is unchanged:
the recipe trains as tuned. `scaling="linear"` instead multiplies both by the number of replicas (the linear scaling
rule, warm-up kept), for more throughput per step. Data: every worker builds the same seeded pipeline and tf.data's
DATA auto-sharding keeps its 1/N of each global batch. Writing: every worker runs the same code to the end (reading a
synchronised variable, e.g. BatchNorm's moving mean, is a collective that needs all of them); non-chief workers write
into a temporary directory that is deleted, TensorFlow's documented pattern, so only the chief's files reach --out.
A multi-worker run does not resume from checkpoints: the workers' local checkpoints could disagree.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import FashionEdgeError
from .model import ModelConfig, build_model

STRATEGIES = ("default", "mirrored", "multi-worker")
SCALINGS = ("fixed", "linear")
KERAS3_MULTI_WORKER_BUG = "keras-team/keras#20585"
LEGACY_KERAS_HINT = "pip install tf-keras (the version matching your TensorFlow), or `pip install -e .[distributed]`"


@dataclass(frozen=True)
class DistributeOptions:
    strategy: str = "default"  # one of STRATEGIES
    devices: int | None = None  # mirrored only: split the CPU into this many logical devices (testing)
    scaling: str = "fixed"  # fixed: batch_size is the global batch; linear: batch and peak LR x replicas


@dataclass(frozen=True)
class Cluster:
    """This process's place in the TF_CONFIG cluster (chief/worker tasks only)."""

    workers: tuple[str, ...]  # host:port of every worker task, the chief task first
    task_type: str  # "chief" or "worker"
    task_index: int
    has_chief_task: bool  # the cluster lists a separate "chief" task

    @property
    def is_chief(self) -> bool:
        """TensorFlow's rule: the "chief" task, or worker 0 when the cluster has no chief task."""
        return self.task_type == "chief" or (self.task_index == 0 and not self.has_chief_task)

    @property
    def worker_index(self) -> int:
        """Position of this task in `workers` (0 is the chief)."""
        return self.task_index + (1 if self.task_type == "worker" and self.has_chief_task else 0)


def parse_tf_config(text: str | None) -> Cluster:
    """Parse TF_CONFIG ({"cluster": {"chief": [..], "worker": [..]}, "task": {"type": .., "index": ..}})."""
    where = "see docs/distributed.md"
    if not text:
        raise FashionEdgeError(f"--strategy multi-worker reads the cluster from TF_CONFIG, which is not set; {where}")
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        chief, worker = list(cluster.get("chief", [])), list(cluster.get("worker", []))
        task_type, task_index = str(task["type"]), int(task["index"])
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise FashionEdgeError(f"TF_CONFIG is not valid ({type(e).__name__}: {e}); {where}") from e
    other = sorted(set(cluster) - {"chief", "worker"})
    if other or task_type not in ("chief", "worker"):
        raise FashionEdgeError(
            f"TF_CONFIG: multi-worker training uses chief/worker tasks only, got {other or task_type!r}; {where}"
        )
    if len(chief) > 1 or not chief + worker:
        raise FashionEdgeError(f"TF_CONFIG needs at most one chief and at least one worker address; {where}")
    if not 0 <= task_index < len(chief if task_type == "chief" else worker):
        raise FashionEdgeError(f"TF_CONFIG: task {task_type} {task_index} is not in the cluster; {where}")
    return Cluster(tuple(chief + worker), task_type, task_index, has_chief_task=bool(chief))


def _has_tf_keras() -> bool:
    return importlib.util.find_spec("tf_keras") is not None


@dataclass(frozen=True)
class Plan:
    """What the options (and TF_CONFIG) decide, known before TensorFlow is imported."""

    options: DistributeOptions
    cluster: Cluster | None  # multi-worker only

    @property
    def is_chief(self) -> bool:
        return self.cluster is None or self.cluster.is_chief

    def output_dir(self, out_dir: Path) -> Path:
        """`out_dir` on the chief; on other workers a temporary directory, deleted at exit (see `discard`)."""
        if self.is_chief:
            return out_dir
        scratch = Path(tempfile.mkdtemp(prefix="fashion-edge-worker-"))
        atexit.register(shutil.rmtree, scratch, True)  # also when training fails half-way
        return scratch

    def discard(self, out_dir: Path) -> None:
        """Delete a non-chief worker's temporary output directory (nothing on the chief)."""
        if not self.is_chief:
            shutil.rmtree(out_dir, ignore_errors=True)


def plan(options: DistributeOptions, environ: dict[str, str] | None = None) -> Plan:
    """Check the options and read TF_CONFIG (multi-worker); FashionEdgeError says what to change."""
    environ = os.environ if environ is None else environ
    if options.strategy not in STRATEGIES:
        raise FashionEdgeError(f"unknown strategy {options.strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if options.scaling not in SCALINGS:
        raise FashionEdgeError(f"unknown batch scaling {options.scaling!r}; choose one of {', '.join(SCALINGS)}")
    if options.devices is not None and (options.strategy != "mirrored" or options.devices < 1):
        raise FashionEdgeError("--devices N (N >= 1 logical CPU devices) goes with --strategy mirrored only")
    if options.strategy != "multi-worker":
        return Plan(options, None)
    if not _has_tf_keras():
        raise FashionEdgeError(
            f"--strategy multi-worker needs tf-keras: Keras 3 cannot fit under MultiWorkerMirroredStrategy "
            f"({KERAS3_MULTI_WORKER_BUG}); {LEGACY_KERAS_HINT}"
        )
    return Plan(options, parse_tf_config(environ.get("TF_CONFIG")))


def scale_config(cfg: Any, replicas: int, scaling: str) -> Any:
    """The training config with its global batch and peak learning rate for `replicas` (a TrainConfig)."""
    if scaling == "linear":
        cfg = replace(cfg, batch_size=cfg.batch_size * replicas, learning_rate=cfg.learning_rate * replicas)
    if cfg.batch_size % replicas:
        raise FashionEdgeError(
            f"batch size {cfg.batch_size} does not split evenly over {replicas} replicas; "
            f"pass a multiple of {replicas} to --batch-size"
        )
    return cfg


@dataclass(frozen=True)
class Distribution:
    """A started strategy, the Keras that trains under it, and what training.json records about it."""

    plan: Plan
    strategy: Any  # tf.distribute.Strategy
    keras: ModuleType  # keras (Keras 3), or tf_keras on the multi-worker path
    devices: tuple[str, ...]  # this worker's devices the replicas run on

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)

    @property
    def workers(self) -> int:
        return len(self.plan.cluster.workers) if self.plan.cluster else 1

    @property
    def checkpoints(self) -> bool:
        """Per-epoch checkpoints and resuming: single-process strategies only."""
        return self.plan.cluster is None

    def scope(self) -> contextlib.AbstractContextManager:
        """Where the model and its optimizer must be created (nothing at all for the default strategy)."""
        return contextlib.nullcontext() if self.plan.options.strategy == "default" else self.strategy.scope()

    def shard(self, dataset: Any) -> Any:
        """The training dataset with its sharding made explicit (unchanged for one process)."""
        if self.plan.cluster is None:
            return dataset
        import tensorflow as tf

        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return dataset.with_options(options)

    def exported(self, model: Any, model_cfg: ModelConfig) -> Any:
        """The trained model as a Keras 3 model (a tf-keras one is rebuilt and its weights copied layer by layer:
        the two order a model's weights differently). Every worker must call this: it reads synchronised variables."""
        if self.keras.__name__ == "keras":
            return model
        keras3_model = build_model(model_cfg)
        for mine, theirs in zip(keras3_model.layers, model.layers, strict=True):
            mine.set_weights(theirs.get_weights())
        return keras3_model

    def finish(self, out_dir: Path) -> None:
        """End of `train()`: wait for every worker (a worker exiting while the chief still writes looks like a crash
        to the chief's coordination service), then delete a non-chief worker's temporary output directory."""
        if self.plan.cluster is not None:
            import tensorflow as tf

            self.strategy.reduce("SUM", self.strategy.run(lambda: tf.constant(1.0)), axis=None)  # a barrier
        self.plan.discard(out_dir)

    def record(self, cfg: Any) -> dict:
        """The training.json entry: strategy, replicas, workers, batch, learning rate, sharding, Keras."""
        options, cluster = self.plan.options, self.plan.cluster
        return {
            "strategy": options.strategy,
            "keras": f"{self.keras.__name__} {self.keras.__version__}",
            "replicas": self.replicas,
            "workers": self.workers,
            "worker_index": cluster.worker_index if cluster else 0,
            "cluster": list(cluster.workers) if cluster else [],
            "devices": list(self.devices),
            "logical_cpu_devices": options.devices,
            "global_batch_size": cfg.batch_size,
            "per_replica_batch_size": cfg.batch_size // self.replicas,
            "batch_scaling": options.scaling,
            "learning_rate": cfg.learning_rate,
            "learning_rate_scaling": "linear (x replicas)" if options.scaling == "linear" else "none",
            "data_sharding": "DATA: each worker keeps its 1/N of every global batch"
            if cluster
            else "each global batch is split over the replicas"
            if self.replicas > 1
            else "none (one replica)",
        }


def _set_logical_cpus(tf: Any, count: int) -> list[str]:
    """Split the first CPU into `count` logical devices; only possible before TensorFlow initialises its devices."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError as e:
        if len(tf.config.list_logical_devices("CPU")) != count:
            raise FashionEdgeError(
                f"--devices {count}: TensorFlow already initialised its devices in this process; "
                "train in a fresh process"
            ) from e
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def start(plan: Plan) -> Distribution:
    """Create the strategy. Call it before any other TensorFlow operation (device setup and
    MultiWorkerMirroredStrategy both require it)."""
    import tensorflow as tf

    strategy_name, cluster = plan.options.strategy, plan.cluster
    if strategy_name == "mirrored":
        devices = _set_logical_cpus(tf, plan.options.devices) if plan.options.devices else None
        strategy = tf.distribute.MirroredStrategy(devices=devices)
    elif strategy_name == "multi-worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    if cluster is not None:
        import tf_keras as keras_module
    else:
        import keras as keras_module
    devices = () if strategy_name == "default" else tuple(strategy.extended.worker_devices)
    return Distribution(plan, strategy, keras_module, devices)
