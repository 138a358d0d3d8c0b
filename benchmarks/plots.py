"""The report's plots, rendered off-screen (Agg) to PNGs. matplotlib is imported only here, only when called."""

from __future__ import annotations

from typing import Any

from ..render import figure_png, kb
from .anchors import ANCHORS, pareto_front


def _label(run: dict[str, Any], result: dict[str, Any], many_runs: bool) -> str:
    return f"{run['device']['label']}: {result['format']}" if many_runs else result["format"]


def figures_png(runs: list[dict[str, Any]]) -> list[tuple[str, bytes]] | None:
    """[(title, PNG)] for latency distributions, accuracy vs p50 and model sizes; None without matplotlib."""
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
        figures.append(
            ("Accuracy vs p50 latency, Pareto front and published anchors", _accuracy_figure(plt, pairs, many))
        )
        figures.append(("Model size", _size_figure(plt, pairs, many)))
        return [(title, figure_png(fig, dpi=100)) for title, fig in figures]
    finally:
        plt.close("all")


def runs_of_pairs(pairs) -> list[dict[str, Any]]:
    """The distinct runs of (run, result) pairs, in order."""
    return list({id(run): run for run, _ in pairs}.values())


def _plain_log_ticks(axis) -> None:
    """Log-scale ticks as 0.2, 0.5, 1, 2 rather than 2×10⁻¹."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else ""))  # 2s, 5s


def _latency_figure(plt, pairs, many: bool):
    import matplotlib

    # `orientation` replaced `vert` in matplotlib 3.10 (and `vert` warns from 3.11).
    new_api = tuple(int(p) for p in matplotlib.__version__.split(".")[:2]) >= (3, 10)
    horizontal = {"orientation": "horizontal"} if new_api else {"vert": False}
    threads = sorted({r["threads"] for _, r in pairs})
    counts = [sum(r["threads"] == t for _, r in pairs) for t in threads]
    fig, axes = plt.subplots(
        len(threads),
        1,
        figsize=(9, 0.4 * sum(counts) + 0.9 * len(threads)),
        squeeze=False,
        gridspec_kw={"height_ratios": counts},
        sharex=True,
    )
    for ax, t in zip(axes[:, 0], threads, strict=True):
        rows = [(run, r) for run, r in pairs if r["threads"] == t]
        ax.boxplot([r["samples_ms"] for _, r in rows], whis=(1, 99), showfliers=False, **horizontal)
        ax.set_yticks(range(1, len(rows) + 1), [_label(run, r, many) for run, r in rows])
        ax.set_title(f"{t} thread{'s' if t > 1 else ''}", fontsize=10)
        ax.set_xscale("log")  # Keras and TFLite differ by 10x or more; a linear axis hides TFLite's spread
        ax.invert_yaxis()  # first row on top, as in the table
        ax.grid(axis="x", alpha=0.3, which="both")
    _plain_log_ticks(axes[-1, 0].xaxis)
    axes[-1, 0].set_xlabel("latency per invocation (ms, log scale)")
    fig.tight_layout()
    return fig


def _accuracy_figure(plt, pairs, many: bool):
    # Colour per model (and device), marker per thread count: labels written beside points would overlap.
    fig, ax = plt.subplots(figsize=(9, 5))
    labels = list(dict.fromkeys(_label(run, r, many) for run, r in pairs))
    colours = {label: plt.get_cmap("tab10" if len(labels) <= 10 else "tab20")(i % 20) for i, label in enumerate(labels)}
    markers = dict(zip(sorted({r["threads"] for _, r in pairs}), "os^DvP*X", strict=False))
    for run, r in pairs:
        ax.scatter(
            r["latency_ms"]["p50"],
            r["accuracy"],
            color=colours[_label(run, r, many)],
            marker=markers.get(r["threads"], "o"),
            s=50,
        )
    handles = [plt.Line2D([], [], color=c, marker="o", linestyle="", label=label) for label, c in colours.items()]
    handles += [
        plt.Line2D([], [], color="grey", marker=m, linestyle="", label=f"{t} thread{'s' if t > 1 else ''}")
        for t, m in markers.items()
    ]
    for run in runs_of_pairs(pairs):  # the Pareto front of each run's TFLite models at 1 thread
        one = sorted(
            (r["latency_ms"]["p50"], r["accuracy"])
            for r in run["results"]
            if r["threads"] == 1 and r["runtime"] != "tensorflow"
        )
        front = [one[i] for i in sorted(pareto_front(one))]
        if len(front) > 1:
            ax.plot(*zip(*front, strict=True), color="black", linewidth=0.8, linestyle="-", zorder=0)
    for anchor in ANCHORS:  # published accuracies: horizontal marks, not points (no latency was measured)
        ax.axhline(anchor.accuracy, color="grey", linewidth=0.7, linestyle="--", zorder=0)
        ax.annotate(
            anchor.name,
            (0, anchor.accuracy),
            xycoords=("axes fraction", "data"),
            fontsize=7,
            color="dimgrey",
            xytext=(3, 2),
            textcoords="offset points",
        )
    handles.append(plt.Line2D([], [], color="black", linewidth=0.8, label="Pareto front (1 thread)"))
    handles.append(plt.Line2D([], [], color="grey", linewidth=0.7, linestyle="--", label="published anchors"))
    ax.legend(handles=handles, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set_xscale("log")
    _plain_log_ticks(ax.xaxis)
    ax.set_xlabel("p50 latency (ms, log scale)")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3, which="both")
    return fig


def _size_figure(plt, pairs, many: bool):
    sizes = {}  # one bar per model file, not per thread count
    for run, r in pairs:
        sizes.setdefault(_label(run, r, many), kb(r["size_bytes"]))
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(sizes) + 1.2))
    ax.barh(list(sizes), list(sizes.values()))
    for i, size in enumerate(sizes.values()):
        ax.annotate(f"{size:.0f} KB", (size, i), fontsize=8, xytext=(3, -3), textcoords="offset points")
    ax.set_xlabel("file size (KB)")
    ax.invert_yaxis()
    return fig
