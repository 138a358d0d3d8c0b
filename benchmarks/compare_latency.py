"""Latency of any `.tflite` files (each with its card) side by side, interleaved in one process run.

    python -m fashion_edge.benchmarks.compare_latency A.tflite B.tflite ... [--threads 1] [--runs 2000]

For a comparison `fashion-edge bench` cannot make in one run, such as today's models against an earlier release's
(`git show REV:path > old/fashion_int8.tflite`, card too). Prints p50/p90 per file, its ratio to the first file, and
the CPU with its int8 instruction sets, which decide whether int8 beats float32.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..data import load_fashion_mnist
from ..edge.registry import load
from ..errors import FashionEdgeError
from ..host import cpu_facts
from .latency import TFLiteRunner, measure_interleaved, summarize


def compare(paths: list[Path], threads: int = 1, runs: int = 2000, warmup: int = 200) -> list[dict]:
    """[{path, p50_ms, p90_ms, vs_first}] with every file timed in the same shuffled rounds."""
    images = load_fashion_mnist(download=False).x_test[:32]
    runners = [TFLiteRunner(p, load(p).card, images, threads) for p in paths]
    measure_interleaved(runners, runs, warmup)
    stats = [summarize(r.samples_ms) for r in runners]
    return [
        {"path": str(p), "p50_ms": s["p50"], "p90_ms": s["p90"], "vs_first": s["p50"] / stats[0]["p50"]}
        for p, s in zip(paths, stats, strict=True)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path, help=".tflite files, each with its .json card beside it")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args(argv)
    try:
        rows = compare(args.models, args.threads, args.runs, args.warmup)
    except FashionEdgeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    cpu = cpu_facts()
    print(
        f"{cpu['model']} ({', '.join(cpu['int8_instructions']) or 'no int8 SIMD known'}); {args.threads} thread(s), "
        f"{args.runs} interleaved runs each"
    )
    for r in rows:
        print(f"{r['p50_ms']:8.3f} ms p50  {r['p90_ms']:8.3f} ms p90  {r['vs_first']:5.2f}x first  {r['path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
