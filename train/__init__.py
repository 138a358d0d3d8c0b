"""Training: Fashion-MNIST data and the Keras CNN. Importing this package does not import TensorFlow."""
