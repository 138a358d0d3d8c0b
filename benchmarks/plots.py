"""The report's plots, rendered off-screen (Agg) to base64 PNGs. matplotlib is imported only here, only when called."""

from __future__ import annotations

import base64
import io
from typing import Any


def _label(run: dict[str, Any], result: dict[str, Any], many_runs: bool) -> str:
    return f"{run['device']['label']}: {result['format']}" if many_runs else result["format"]


def figures_base64(runs: list[dict[str, Any]]) -> list[tuple[str, str]] | None:
    """[(title, base64 PNG)] for latency distributions, accuracy vs p50 and model sizes; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display on a Pi over ssh, nor in CI
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    many = len(runs) > 1
    pairs = [(run, r) for run in runs for r in run["results"]]
    figures = []
    try:
        figures.append(("Latency distribution per variant (ms, whiskers p1–p99)", _latency_figure(plt, pairs, many)))
        figures.append(("Accuracy vs p50 latency", _accuracy_figure(plt, pairs, many)))
        figures.append(("Model size", _size_figure(plt, pairs, many)))
        return [(title, _png_base64(fig)) for title, fig in figures]
    finally:
        plt.close("all")


def _png_base64(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _latency_figure(plt, pairs, many: bool):
    import matplotlib

    # `orientation` replaced `vert` in matplotlib 3.10 (and `vert` warns from 3.11).
    new_api = tuple(int(p) for p in matplotlib.__version__.split(".")[:2]) >= (3, 10)
    horizontal = {"orientation": "horizontal"} if new_api else {"vert": False}
    threads = sorted({r["threads"] for _, r in pairs})
    n_boxes = max(sum(r["threads"] == t for _, r in pairs) for t in threads)
    fig, axes = plt.subplots(len(threads), 1, figsize=(9, 0.45 * n_boxes * len(threads) + 1.2), squeeze=False)
    for ax, t in zip(axes[:, 0], threads, strict=True):
        rows = [(run, r) for run, r in pairs if r["threads"] == t]
        ax.boxplot([r["samples_ms"] for _, r in rows], whis=(1, 99), showfliers=False, **horizontal)
        ax.set_yticks(range(1, len(rows) + 1), [_label(run, r, many) for run, r in rows])
        ax.set_title(f"{t} thread{'s' if t > 1 else ''}", fontsize=10)
        ax.set_xscale("log")  # Keras and TFLite differ by 10x or more; a linear axis hides TFLite's spread
        ax.invert_yaxis()  # first row on top, as in the table
        ax.grid(axis="x", alpha=0.3, which="both")
    axes[-1, 0].set_xlabel("latency per invocation (ms, log scale)")
    fig.tight_layout()
    return fig


def _accuracy_figure(plt, pairs, many: bool):
    fig, ax = plt.subplots(figsize=(8, 5))
    for t in sorted({r["threads"] for _, r in pairs}):
        rows = [(run, r) for run, r in pairs if r["threads"] == t]
        xs, ys = [r["latency_ms"]["p50"] for _, r in rows], [r["accuracy"] for _, r in rows]
        ax.scatter(xs, ys, label=f"{t} thread{'s' if t > 1 else ''}")
        for (run, r), x, y in zip(rows, xs, ys, strict=True):
            ax.annotate(_label(run, r, many), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("p50 latency (ms, log scale)")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def _size_figure(plt, pairs, many: bool):
    sizes = {}  # one bar per model file, not per thread count
    for run, r in pairs:
        sizes.setdefault(_label(run, r, many), r["size_bytes"] / 1000)
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(sizes) + 1.2))
    ax.barh(list(sizes), list(sizes.values()))
    for i, kb in enumerate(sizes.values()):
        ax.annotate(f"{kb:.0f} KB", (kb, i), fontsize=8, xytext=(3, -3), textcoords="offset points")
    ax.set_xlabel("file size (KB)")
    ax.invert_yaxis()
    return fig
