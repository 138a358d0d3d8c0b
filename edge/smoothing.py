"""Steady labels for live sources: class probabilities averaged over the last N frames, with "nothing" as a state.

A still garment under camera noise flickers between near-tied classes frame by frame; what a display or an
integration wants is the label that holds. `LabelSmoother` keeps the last `window` frames' probability vectors,
extended by one entry for "nothing in view" (1 on a frame with nothing, 0 otherwise), and reports the state that
leads their mean. The steady state changes only when another one leads the mean by `margin` (hysteresis), so a
real change is followed within about window/2 frames and near-ties do not flip it back and forth.
`window` <= 1 passes every frame through unchanged.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

DEFAULT_WINDOW = 5  # frames; at 15-30 FPS a change is followed in 0.1-0.2 s
DEFAULT_MARGIN = 0.1


@dataclass(frozen=True)
class Steady:
    """The smoothed state after one frame: class id (None = nothing in view), its mean score, whether it changed on
    this frame (always True on the first frame), and the mean class probabilities."""

    class_id: int | None
    score: float
    changed: bool
    scores: np.ndarray


class LabelSmoother:
    """Feed one frame's class probabilities (or None for "nothing in view") per `update`; get the steady state."""

    def __init__(self, window: int = DEFAULT_WINDOW, margin: float = DEFAULT_MARGIN) -> None:
        self.window = max(1, int(window))
        self.margin = float(margin)
        self._history: deque[np.ndarray] = deque(maxlen=self.window)
        self._state: int | None = None  # index into the extended vector; the last entry is "nothing"

    def reset(self) -> None:
        """Forget the history (a new source starts)."""
        self._history.clear()
        self._state = None

    def update(self, scores: np.ndarray | None, n_classes: int | None = None) -> Steady:
        """One frame: `scores` (n_classes,) probabilities, or None when nothing is in view (give `n_classes` then,
        unless a frame with scores came before)."""
        if scores is None:
            size = n_classes if n_classes is not None else (len(self._history[-1]) - 1 if self._history else None)
            if size is None:
                raise ValueError("the first frame with nothing in view needs n_classes")
            extended = np.zeros(size + 1, np.float64)
            extended[-1] = 1.0
        else:
            extended = np.append(np.asarray(scores, np.float64).reshape(-1), 0.0)
        if self._history and len(self._history[-1]) != len(extended):
            self.reset()
        self._history.append(extended)
        mean = np.mean(self._history, axis=0)
        leader = int(np.argmax(mean))
        previous = self._state
        overtaken = previous is not None and leader != previous and mean[leader] >= mean[previous] + self.margin
        if previous is None or overtaken or self.window == 1:
            self._state = leader
        state = self._state
        nothing = state == len(mean) - 1
        changed = previous is None or state != previous
        return Steady(None if nothing else state, float(mean[state]), changed, mean[:-1].astype(np.float32))


def label_changes(labels: list[int | None]) -> int:
    """How many times a sequence of per-frame labels changes (None, "nothing", counts as a label)."""
    return sum(a != b for a, b in zip(labels, labels[1:], strict=False))
