"""PyTorch backend: the real ``torch.nn`` layers, and the same cells written out by hand.

Importing this package imports torch (``import rnnkit`` alone does not; ``rnnkit.torch`` loads
on first use). It turns off TF32 on GPUs, so the numbers can be compared with the NumPy and
Keras backends (see :mod:`.layers`).

Example:
    >>> import numpy as np, rnnkit
    >>> w = rnnkit.init_weights("lstm", input_size=3, hidden_size=4, seed=0)
    >>> out, (h, c) = rnnkit.forward("lstm", np.zeros((2, 5, 3), np.float32), w, backend="torch")
    >>> out.shape
    (2, 5, 4)
"""
import torch  # noqa: F401  (the backend needs torch; fail here, loudly, if it is missing)

from .gru import GRUCell
from .layers import build, forward, gradients, read_weights, run
from .lstm import LSTMCell
from .rnn import RNNCell

__all__ = ["GRUCell", "LSTMCell", "RNNCell", "build", "forward", "gradients", "read_weights",
           "run"]
