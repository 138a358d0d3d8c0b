"""Draw a prediction onto a frame (for --save-video, --show and the --serve stream). BGR in, BGR out."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from .classifier import Prediction

INSET_PX = 84  # the 28x28 model input shown 3x in the top-right corner: what the model really saw


def annotate(
    frame: np.ndarray,
    prediction: Prediction,
    model_input: np.ndarray | None = None,
    fps: float | None = None,
    *,
    box: tuple[int, int, int, int] | None = None,
    nothing: str | None = None,
) -> np.ndarray:
    """A copy of `frame` with top-k labels and scores, latency, FPS and the model's input drawn on it; the object
    classified framed (`box`: x, y, w, h), or "nothing in view" and why."""
    out = frame.copy() if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    h, w = out.shape[:2]
    scale = max(0.4, min(w, h) / 640)
    if box is not None and nothing is None:
        x, y, bw, bh = box
        cv2.rectangle(out, (x, y), (x + bw - 1, y + bh - 1), (0, 255, 0), max(1, round(2 * scale)), cv2.LINE_AA)
    lines = [f"{c.label} {c.score:.2f}" for c in prediction.classes]
    lines[0] += " (uncertain)" if prediction.uncertain else ""
    if nothing is not None:
        lines = ["nothing in view", nothing]
    lines.append(f"{prediction.latency_ms:.1f} ms" + (f"  {fps:.1f} fps" if fps else ""))
    y = int(28 * scale)
    for i, text in enumerate(lines):
        thickness = 2 if i == 0 else 1
        colour = (0, 200, 255) if prediction.uncertain or nothing is not None else (0, 255, 0)
        for col, extra in (((0, 0, 0), 2), (colour if i == 0 else (255, 255, 255), 0)):  # outline, then text
            cv2.putText(
                out,
                text,
                (int(8 * scale), y),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.7 * scale,
                col,
                thickness + extra,
                cv2.LINE_AA,
            )
        y += int(26 * scale)
    if model_input is not None and w > 2 * INSET_PX and h > 2 * INSET_PX:
        inset = cv2.resize(model_input, (INSET_PX, INSET_PX), interpolation=cv2.INTER_NEAREST)
        out[4 : 4 + INSET_PX, w - INSET_PX - 4 : w - 4] = cv2.cvtColor(inset, cv2.COLOR_GRAY2BGR)
    return out
