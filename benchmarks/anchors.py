"""Where a model stands: published Fashion-MNIST accuracies a user compares a small model with (float models, test
set, one crop), and the Pareto front of measured (latency, accuracy) points. Both feed the report's table and plot.
"""

from __future__ import annotations

from typing import NamedTuple


class Anchor(NamedTuple):
    name: str
    accuracy: float  # top-1 on the 10K test set
    parameters: str
    source: str


ANCHORS: tuple[Anchor, ...] = (
    Anchor("2-conv CNN, no augmentation", 0.925, "< 100K", "zalandoresearch/fashion-mnist README benchmark table"),
    Anchor("MobileNet", 0.950, "~4M", "zalandoresearch/fashion-mnist README benchmark table"),
    Anchor("DenseNet-BC", 0.954, "768K", "zalandoresearch/fashion-mnist README benchmark table"),
    Anchor("ResNet-20 + random erasing", 0.960, "~0.27M", "zhunzhong07/Random-Erasing README"),
)


def pareto_front(points: list[tuple[float, float]]) -> set[int]:
    """Indices of the (latency, accuracy) points no other point beats on both (lower latency, higher accuracy)."""
    return {
        i
        for i, (lat, acc) in enumerate(points)
        if not any(
            (other_lat <= lat and other_acc >= acc) and (other_lat, other_acc) != (lat, acc)
            for other_lat, other_acc in points
        )
    }
