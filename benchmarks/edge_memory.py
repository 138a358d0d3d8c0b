"""Where the memory of `edge-classify photo.jpg` goes: resident memory after each import and step, in order.

One fresh Python process does what the CLI does for one still image, step by step (numpy, click, OpenCV, the
interpreter, fashion_edge.edge, decode, preprocess, load the model, classify), and notes VmRSS and VmHWM (the peak)
after each; the differences are each step's cost. A second column does the same for a camera-like video source
(FFmpeg's demuxer and a 640x480 frame per read). Linux only (/proc).

    python -m fashion_edge.benchmarks.edge_memory [IMAGE] [--video VIDEO] [--json OUT]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click

# Run in a child so nothing this module imported counts. Each step is code; after it, one line of JSON.
_STEPS = [
    ("python", ""),
    ("numpy", "import numpy"),
    ("click", "import click"),
    ("opencv (cv2)", "import cv2"),
    ("LiteRT interpreter", "import ai_edge_litert.interpreter"),
    ("fashion_edge.edge", "from fashion_edge.edge import cli, sources, preprocess, classifier, registry"),
    ("decode the image", "image = sources.read_image(IMAGE)"),
    ("preprocess", "x = preprocess.to_model_input(image)"),
    ("load the model", "model = classifier.Classifier(registry.shipped_model())"),
    ("classify", "model.classify(x)"),
]
_VIDEO_STEPS = [
    ("open the video (FFmpeg)", "video = sources.VideoFile(VIDEO)"),
    (
        "read + classify 30 frames",
        "frames = video.frames()\nfor _ in range(30): model.classify(preprocess.to_model_input(next(frames).image))",
    ),
]
_PROBE = """
import json, re, sys
def _note(step):
    status = open("/proc/self/status").read()
    kb = {k: int(re.search(k + r":\\s+(\\d+)", status).group(1)) for k in ("VmRSS", "VmHWM")}
    print(json.dumps({"step": step, "rss_mb": kb["VmRSS"] / 1024, "peak_mb": kb["VmHWM"] / 1024}), flush=True)
"""


def measure(image: Path, video: Path | None = None) -> list[dict[str, float | str]]:
    """[{step, rss_mb, peak_mb}] after each step, from one fresh process."""
    steps = _STEPS + (_VIDEO_STEPS if video else [])
    code = _PROBE + f"IMAGE, VIDEO = {str(image)!r}, {str(video)!r}\n"
    code += "".join(f"{body}\n_note({name!r})\n" for name, body in steps)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise click.ClickException(f"the measuring process failed: {out.stderr.strip().splitlines()[-1:]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


@click.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--video",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also open this video and classify 30 of its frames (the camera path's cost).",
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write results here.")
def main(image: Path, video: Path | None, json_out: Path | None) -> None:
    """Resident memory after each step of classifying IMAGE, as edge-classify does it."""
    import cv2
    import numpy as np

    rows = measure(image, video)
    click.echo(
        f"{'step':<28} {'+MB':>6} {'RSS MB':>7} {'peak MB':>8}   (numpy {np.__version__}, OpenCV "
        f"{cv2.__version__}, Python {sys.version.split()[0]})"
    )
    previous = 0.0
    for row in rows:
        click.echo(f"{row['step']:<28} {row['rss_mb'] - previous:>+6.1f} {row['rss_mb']:>7.1f} {row['peak_mb']:>8.1f}")
        previous = float(row["rss_mb"])
    if json_out:
        from ..artifacts import atomic_write_json

        atomic_write_json(json_out, {"numpy": np.__version__, "opencv": cv2.__version__, "steps": rows})


if __name__ == "__main__":
    sys.exit(main())
