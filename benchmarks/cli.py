"""`fashion-edge bench [MODELS_DIR]` runs the benchmark; `fashion-edge bench merge A.json B.json` joins devices.

A click group cannot normally take an optional positional *and* subcommands (the positional would swallow the
subcommand's name), so BenchGroup looks at the first word: `merge` is the subcommand, anything else is the
bench invocation with MODELS_DIR. No TensorFlow is imported here; only a Keras model's worker process needs it.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from ..errors import FashionEdgeError
from ..options import data_dir_option, echo_stdout, flush_stdout, out_dir_option, user_errors

MODELS_DIR_PARAM = "models_dir"


class BenchGroup(click.Group):
    """`bench [MODELS_DIR] [OPTIONS]` or `bench merge ...`: only a registered subcommand name dispatches."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            ctx.meta["fashion_edge.bench.subcommand"] = True  # hide MODELS_DIR so it cannot swallow "merge"
            return super().parse_args(ctx, args)
        ctx.allow_interspersed_args = True  # `bench DIR --runs 5` as well as `bench --runs 5 DIR`
        rest = click.Command.parse_args(self, ctx, args)
        if rest:
            ctx.fail(f"unexpected extra argument(s): {' '.join(rest)} (one MODELS_DIR at most; or `bench merge`)")
        return rest

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        if ctx.meta.get("fashion_edge.bench.subcommand"):
            params = [p for p in params if p.name != MODELS_DIR_PARAM]
        return params

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[MODELS_DIR] [OPTIONS]")
        formatter.write_usage(ctx.command_path, "merge RUN.json [RUN.json ...] [--out DIR]", prefix="   or: ")


def _parse_threads(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        threads = tuple(int(t) for t in value.split(",") if t.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected comma-separated integers, e.g. 1,2,4") from None
    if not threads or any(t < 1 for t in threads):
        raise click.BadParameter(f"{value!r}: every thread count must be at least 1")
    return tuple(dict.fromkeys(threads))


def _parse_runtimes(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r.strip() for r in value.split(",") if r.strip())) if value else ()


@contextlib.contextmanager
def _progress():
    """(total, advance) callbacks drawing a click progress bar on stderr once the step count is known."""
    with contextlib.ExitStack() as stack:
        bar = []

        def total(n: int) -> None:
            bar.append(stack.enter_context(click.progressbar(length=n, label="benchmarking", file=sys.stderr)))

        yield total, (lambda n: bar[0].update(n) if bar else None)


@click.group(
    "bench",
    cls=BenchGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.argument(MODELS_DIR_PARAM, required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--threads",
    default="1,2,4",
    show_default=True,
    callback=_parse_threads,
    help="Comma-separated interpreter thread counts; every variant is timed at each.",
)
@click.option(
    "--runs",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Timed invocations per variant and thread count.",
)
@click.option(
    "--warmup",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Untimed invocations first (caches, XNNPACK packing, CPU clocks).",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Images per invocation (1 = a camera loop); FPS counts images.",
)
@out_dir_option("runs/bench", "bench.json, bench.md and bench.html")
@click.option(
    "--runtime",
    "runtimes",
    callback=_parse_runtimes,
    help="Comma-separated TFLite runtimes to compare: litert, tflite-runtime, tf (default: the first that imports).",
)
@click.option(
    "--keras-model",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also benchmark this Keras float model (needs TensorFlow). Default: MODELS_DIR/model.keras "
    "when it exists and TensorFlow is installed.",
)
@click.option("--no-keras", is_flag=True, help="Skip the Keras model even if one is found.")
@click.option(
    "--pin-cpu",
    type=int,
    is_flag=False,
    flag_value=-1,
    default=None,
    metavar="[CPU]",
    help="Pi-class mode: restrict the run to one core (default: the highest-numbered allowed core), so "
    "a 1-thread figure is not helped by the others.",
)
@click.option(
    "--no-xnnpack",
    is_flag=True,
    help="Run the TFLite models on the runtime's builtin kernels instead of its default XNNPACK delegate "
    "(an A/B: run once with and once without, then `bench merge`).",
)
@click.option("--label", help="Device name in the reports (default: the host name).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the interleaving order.")
@data_dir_option
@click.option(
    "--test-limit",
    type=click.IntRange(min=1),
    help="Accuracy on the first N test images only (smoke runs; default: all 10,000).",
)
@click.pass_context
def bench_group(ctx: click.Context, models_dir: Path | None = None, **options) -> None:
    """Benchmark every model variant on this device: accuracy, latency, size, memory, start-up.

    \b
    fashion-edge bench [MODELS_DIR] [OPTIONS]
        Benchmarks fashion_<variant>.tflite (+ cards) in MODELS_DIR, or the models shipped with the package.
        Writes bench.json (schema: docs/benchmarks.md), bench.md and bench.html into --out.
    fashion-edge bench merge A.json B.json ... --out DIR
        Joins bench.json files from several devices into one cross-device report.
    """
    if ctx.invoked_subcommand is not None:
        return
    with user_errors():
        _run(models_dir, **options)


def _run(
    models_dir: Path | None,
    threads,
    runs,
    warmup,
    batch,
    out_dir,
    runtimes,
    keras_model,
    no_keras,
    pin_cpu,
    no_xnnpack,
    label,
    seed,
    data_dir,
    test_limit,
) -> None:
    from ..artifacts import ensure_writable_dir
    from ..host import tensorflow_version
    from .models import discover
    from .run import BenchConfig, check_config, default_pin_cpu, run_benchmark

    if keras_model is None and not no_keras and models_dir is not None:
        found = Path(models_dir) / "model.keras"
        if found.is_file() and tensorflow_version() is not None:
            keras_model = found
    if no_keras:
        keras_model = None
    cfg = BenchConfig(
        models_dir=models_dir,
        keras_model=keras_model,
        threads=threads,
        runs=runs,
        warmup=warmup,
        batch=batch,
        runtimes=runtimes,
        pin_cpu=default_pin_cpu() if pin_cpu == -1 else pin_cpu,
        seed=seed,
        data_dir=data_dir,
        test_limit=test_limit,
        label=label,
        xnnpack=not no_xnnpack,
    )
    # Cheap checks first, so bad input fails before minutes of measuring and before --out is created.
    check_config(cfg)
    discover(models_dir, keras_model)
    ensure_writable_dir(out_dir)
    with _progress() as (total, advance):
        doc = run_benchmark(cfg, advance=advance, total=total)
    _show_and_write(doc, out_dir)


def _show_and_write(doc: dict, out_dir: Path) -> None:
    """The table on stdout first (minutes of measuring are not lost if the disk is full), then the reports."""
    from .report import markdown, write_reports

    try:
        echo_stdout(markdown(doc))
        flush_stdout()
        unprinted = None
    except FashionEdgeError as e:  # stdout on a full disk or a closed pipe: still write the reports, then say so
        unprinted = e
    paths = write_reports(doc, out_dir)
    click.echo("wrote " + ", ".join(str(p) for p in paths), err=True)
    if unprinted is not None:
        raise unprinted


@bench_group.command("merge")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@out_dir_option("runs/bench-merged", "the merged bench.json, bench.md and bench.html")
def merge_command(inputs: tuple[Path, ...], out_dir: Path) -> None:
    """Join bench.json files (e.g. a laptop's and a Raspberry Pi's) into one cross-device report."""
    from .report import load, merge

    with user_errors():
        _show_and_write(merge([load(p) for p in inputs]), out_dir)
