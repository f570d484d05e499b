"""Keras 3 (TensorFlow) backend: the real ``keras.layers`` RNNs, and the same cells by hand.

Importing this package imports TensorFlow, which takes seconds (``import rnnkit`` alone does
not; ``rnnkit.keras`` loads on first use), with its C++ log noise turned down.

Example:
    >>> import numpy as np, rnnkit
    >>> w = rnnkit.init_weights("lstm", input_size=3, hidden_size=4, seed=0)
    >>> out, (h, c) = rnnkit.forward("lstm", np.zeros((2, 5, 3), np.float32), w, backend="keras")
    >>> out.shape
    (2, 5, 4)
"""
from .layers import build, forward, gradients, read_weights, run  # first: sets the TF log level
from .gru import GRUCell
from .lstm import LSTMCell
from .rnn import RNNCell

__all__ = ["GRUCell", "LSTMCell", "RNNCell", "build", "forward", "gradients", "read_weights",
           "run"]
