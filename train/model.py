"""The CNN, in one screen. Built for full-int8 TFLite: only Conv2D, BatchNorm (folded at conversion), ReLU,
max-pooling, global average pooling (or a flatten) and Dense; raw 0-255 pixels in (Rescaling inside), logits out."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from types import ModuleType

HEADS = ("average", "flatten")  # what the classifier reads: each channel's mean, or every position


@dataclass(frozen=True)
class ModelConfig:
    # One tuple per resolution stage (28x28, 14x14, 7x7): the widths of its 3x3 convs. Max-pool between stages.
    stages: tuple[tuple[int, ...], ...] = ((24,), (48,), (96, 96))
    dropout: float = 0.3  # before the classifier, training only
    num_classes: int = 10
    # "average": the classifier sees each channel's mean over the last stage (global average pooling: few weights);
    # "flatten": every position of it (7x7 x channels weights per class; learns faster on centred garments)
    head: str = "average"

    def __post_init__(self) -> None:
        if self.head not in HEADS:
            raise ValueError(f"head {self.head!r}: choose one of {', '.join(HEADS)}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        return cls(tuple(tuple(s) for s in d["stages"]), d["dropout"], d["num_classes"], d.get("head", cls.head))


def build_model(cfg: ModelConfig = ModelConfig(), keras: ModuleType | None = None):
    """28x28x1 raw pixels (0..255, float) -> logits. `keras`: the Keras module to build with (default Keras 3;
    multi-worker training passes tf_keras)."""
    if keras is None:
        import keras
    layers = keras.layers

    inputs = keras.Input(shape=(28, 28, 1), name="pixels")
    x = layers.Rescaling(1.0 / 255.0)(inputs)  # the model takes raw 0..255 pixels
    for i, widths in enumerate(cfg.stages):
        if i > 0:
            x = layers.MaxPooling2D()(x)
        for filters in widths:
            # No bias: BatchNorm's beta is the bias; the converter folds BN into the conv, leaving one op.
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization(momentum=0.9)(x)
            x = layers.ReLU()(x)
    x = layers.Flatten()(x) if cfg.head == "flatten" else layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(cfg.dropout)(x)
    outputs = layers.Dense(cfg.num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="fashion_cnn")
