"""The one result record: what `edge-classify --json` prints per frame and what the `--serve` view sends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .classifier import Prediction
    from .observer import Stats

DIGITS = 6  # probabilities: enough to tell near-ties apart, short enough to read


def result_record(prediction: Prediction, stats: Stats) -> dict[str, Any]:
    """One classified frame as plain JSON types. `frame` and `fps` are None for a still image.

    Nothing in view: "label" and "score" are null, "nothing" is true and "reason" says why (the model's scores are
    still there). "box" is the object classified (x, y, w, h in frame pixels; null: the whole image), "objects" how
    many preprocessing found; "frame_label" is this frame's own label when labels are smoothed (--smooth).
    """
    record = {
        "source": stats.source,
        "frame": stats.frame_index,
        "frames": stats.frames,
        "label": prediction.label,
        "score": round(float(prediction.score), DIGITS),
        "top_k": [{"label": c.label, "id": c.id, "score": round(float(c.score), DIGITS)} for c in prediction.classes],
        "scores": [round(float(s), DIGITS) for s in np.asarray(prediction.scores).reshape(-1)],
        "uncertain": bool(prediction.uncertain),
        "latency_ms": round(float(stats.latency_ms), 3),
        "preprocess_ms": round(float(stats.preprocess_ms), 3),
        "fps": None if stats.fps is None else round(float(stats.fps), 2),
        "nothing": stats.nothing is not None,
        "reason": stats.nothing,
        "box": None if stats.box is None else [int(v) for v in stats.box],
        "objects": stats.objects,
    }
    if stats.nothing is not None:
        record |= {"label": None, "score": None}
    if stats.smoothed:
        record["frame_label"] = stats.frame_label
    return record
