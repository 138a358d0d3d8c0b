"""fashion-edge: train a Fashion-MNIST CNN, quantize it to TFLite, classify on edge devices."""

__version__ = "0.1.0"
