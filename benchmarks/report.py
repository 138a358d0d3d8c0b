"""bench.json, bench.md (an Ultralytics-style table) and a self-contained bench.html, for one run or merged runs.

Everything is rendered in memory first and then written atomically, so a failure leaves no half-written report.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..artifacts import atomic_write_files, ensure_writable_dir, json_text, read_json
from ..errors import FashionEdgeError
from ..render import html_image, html_page, html_table, kb, markdown_table
from .anchors import ANCHORS, pareto_front
from .schema import SCHEMA_NAME, SCHEMA_VERSION, SchemaError, runs_of, validate

COLUMNS = (
    "Format",
    "Runtime",
    "Threads",
    "Size (KB)",
    "Accuracy",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "FPS",
    "Speed-up vs float32",
    "Size vs float32",
    "Peak RSS MB",
    "Start-up s",
)


def load(path: Path) -> dict[str, Any]:
    """Read and validate a bench.json (run or merged)."""
    path = Path(path)
    doc = read_json(path, "pass the bench.json written by `fashion-edge bench`")
    try:
        validate(doc)
    except SchemaError as e:
        raise FashionEdgeError(f"{path} is not a fashion-edge bench result: {e}") from e
    return doc


def merge(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """One merged document holding every run of `docs` (merged inputs are flattened)."""
    runs = [run for doc in docs for run in runs_of(doc)]
    merged = {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "kind": "merged",
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "runs": runs,
    }
    validate(merged)
    return merged


def _fmt_ratio(value: float | None, suffix: str = "×") -> str:
    return "—" if value is None else f"{value:.2f}{suffix}"


def table_row(r: dict[str, Any]) -> list[str]:
    ratios = r["vs_float32"] or {}
    lat = r["latency_ms"]
    return [
        r["format"],
        f"{r['runtime']} {r['runtime_version']}",
        str(r["threads"]),
        f"{kb(r['size_bytes']):.1f}",
        f"{r['accuracy']:.4f}",
        f"{lat['p50']:.3f}",
        f"{lat['p90']:.3f}",
        f"{lat['p99']:.3f}",
        f"{r['fps']:.0f}",
        _fmt_ratio(ratios.get("speedup_p50")),
        _fmt_ratio(ratios.get("size_ratio")),
        f"{r['peak_rss_mb']:.0f}",
        f"{r['startup_s']:.2f}",
    ]


def device_line(run: dict[str, Any]) -> str:
    d, c = run["device"], run["config"]
    runtimes = ", ".join(f"{k} {v}" for k, v in d["runtimes"].items()) or "no TFLite runtime"
    pinned = f", pinned to CPU {c['pin_cpu']}" if c["pin_cpu"] is not None else ""
    return (
        f"{d['cpu_model']} ({d['arch']}, {d['cpus_allowed']}/{d['cpu_cores']} cores{pinned}), {d['os']}; "
        f"Python {d['python']}, numpy {d['numpy']}, {runtimes}; XNNPACK {'on' if d['xnnpack'] else 'off'}. "
        f"int8 instructions: {', '.join(d['cpu_instructions']) or 'none known'} — {d['int8_expectation']}. "
        f"Batch {c['batch']}, {c['warmup']} warm-up + {c['runs']} timed runs per row (TFLite rows interleaved "
        f"in random order), accuracy on {c['test_images']} test images."
    )


def markdown(doc: dict[str, Any]) -> str:
    """The report as Markdown: per device, the device line and the results table; merged docs add a pivot."""
    runs = runs_of(doc)
    parts = ["# fashion-edge benchmark", ""]
    if len(runs) > 1:
        parts += [
            "## p50 latency at 1 thread across devices (speed-up vs float32 TFLite)",
            "",
            cross_device_table(runs),
            "",
        ]
    for run in runs:
        parts += [
            f"## {run['device']['label']} — {run['created_at']}",
            "",
            device_line(run),
            "",
            markdown_table(list(COLUMNS), [table_row(r) for r in run["results"]]),
            "",
            "### Accuracy vs latency at 1 thread, with published anchors",
            "",
            markdown_table(list(PARETO_COLUMNS), pareto_rows(run)),
            "",
        ]
    parts += [
        "Speed-up = float32 TFLite p50 / this p50 (same runtime, threads and run). FPS = batch × 1000 / p50.",
        "Peak RSS and start-up (spawn to first inference output) come from a fresh process per model.",
        "",
    ]
    return "\n".join(parts)


PARETO_COLUMNS = ("Model", "Accuracy", "p50 ms (1 thread)", "Size (KB)", "Pareto front", "Source")


def pareto_rows(run: dict[str, Any], threads: int = 1) -> list[list[str]]:
    """The run's TFLite models at `threads`, best accuracy first, marked when on the Pareto front; then the
    published anchors (accuracy only: they were not run here)."""
    rows = sorted(
        (r for r in run["results"] if r["threads"] == threads and r["runtime"] != "tensorflow"),
        key=lambda r: -r["accuracy"],
    )
    front = pareto_front([(r["latency_ms"]["p50"], r["accuracy"]) for r in rows])
    table = [
        [
            r["format"],
            f"{r['accuracy']:.4f}",
            f"{r['latency_ms']['p50']:.3f}",
            f"{kb(r['size_bytes']):.1f}",
            "yes" if i in front else "",
            "this run",
        ]
        for i, r in enumerate(rows)
    ]
    table += [[f"{a.name} ({a.parameters} params)", f"{a.accuracy:.4f}", "—", "—", "", a.source] for a in ANCHORS]
    return table


def cross_device_table(runs: list[dict[str, Any]], threads: int = 1) -> str:
    """Rows: formats; columns: devices; cells: p50 ms at `threads` (speed-up vs float32)."""
    labels = [f"{run['device']['label']} ({run['device']['arch']})" for run in runs]
    formats = list(dict.fromkeys(r["format"] for run in runs for r in run["results"]))
    rows = []
    for fmt in formats:
        cells = [fmt]
        for run in runs:
            hit = [r for r in run["results"] if r["format"] == fmt and r["threads"] == threads]
            if hit:
                r = hit[0]
                cells.append(f"{r['latency_ms']['p50']:.3f} ({_fmt_ratio((r['vs_float32'] or {}).get('speedup_p50'))})")
            else:
                cells.append("—")
        rows.append(cells)
    return markdown_table(["Format", *labels], rows)


def html_report(doc: dict[str, Any]) -> str:
    """A self-contained HTML page: tables plus plots embedded as base64 PNGs (no external files or scripts)."""
    from .plots import figures_png

    runs = runs_of(doc)
    body = ["<h1>fashion-edge benchmark</h1>"]
    for run in runs:
        body.append(f"<h2>{html.escape(run['device']['label'])} — {html.escape(run['created_at'])}</h2>")
        body.append(f"<p>{html.escape(device_line(run))}</p>")
        body.append(html_table(COLUMNS, [table_row(r) for r in run["results"]]))
        body.append("<h3>Accuracy vs latency at 1 thread, with published anchors</h3>")
        body.append(html_table(PARETO_COLUMNS, pareto_rows(run)))
    figures = figures_png(runs)
    if figures is None:
        body.append("<p><em>Plots need matplotlib: <code>pip install matplotlib</code>, then re-run.</em></p>")
    else:
        body += [f"<h2>{html.escape(title)}</h2>" + html_image(title, png) for title, png in figures]
    return html_page("fashion-edge benchmark", body)


def write_reports(doc: dict[str, Any], out_dir: Path) -> list[Path]:
    """Validate `doc`, render everything, then write bench.json, bench.md and bench.html as one set: a failure
    (a full disk) leaves the folder as it was, not a new bench.json beside an old bench.html."""
    validate(doc)
    rendered = {"bench.json": json_text(doc), "bench.md": markdown(doc), "bench.html": html_report(doc)}
    out_dir = ensure_writable_dir(Path(out_dir))
    files = {out_dir / name: text.encode("utf-8") for name, text in rendered.items()}
    try:
        atomic_write_files(files)
    except OSError as e:
        raise FashionEdgeError(f"cannot write the reports to {out_dir}: {e.strerror or e}; none was written") from e
    return list(files)
