"""The hook between the classify loop and anything that watches it live (the `--serve` web view, tests).

The loop calls `on_result` once per classified frame and `on_status` when a live source drops or reconnects,
from the inference thread: an observer must return quickly (copy what it needs, encode elsewhere) so that
viewers never slow inference down. `close()` is called once when the run ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from .classifier import Prediction


@dataclass(frozen=True)
class Stats:
    """Running figures for one classified frame."""

    source: str  # path, URL or "camera 0"
    frame_index: int | None  # frame number in a video/stream; None for a still image
    frames: int  # frames classified so far in this run
    fps: float | None  # recent end-to-end frames per second (decode -> preprocess -> infer), None for stills
    latency_ms: float  # interpreter time for this frame
    preprocess_ms: float  # frame -> 28x28 time for this frame
    status: str  # "live", or the last message about the source (dropped, reconnecting ...)
    nothing: str | None = None  # why nothing is in view (the reported label is then None)
    box: tuple[int, int, int, int] | None = None  # (x, y, w, h) of the object classified, in frame pixels
    objects: int = 1  # objects preprocessing found in the frame
    smoothed: bool = False  # the label is the steady one over recent frames (--smooth); then:
    frame_label: str | None = None  # this frame's own label (None: nothing in view)


class Observer(Protocol):
    def on_result(self, frame: np.ndarray, model_input: np.ndarray, prediction: Prediction, stats: Stats) -> None:
        """`frame`: the BGR uint8 source frame; `model_input`: the (28, 28) uint8 image the model saw."""

    def on_status(self, message: str) -> None:
        """A live source dropped, is reconnecting, reconnected, or was lost."""

    def close(self) -> None:
        """The run is over (stop servers, release resources)."""
