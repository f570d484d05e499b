"""rnnkit: one recurrent model (RNN, LSTM, GRU) in NumPy, PyTorch and Keras, same numbers.

``import rnnkit`` loads NumPy only; ``rnnkit.torch`` and ``rnnkit.keras`` import their
framework the first time they are touched (TensorFlow alone takes seconds to import).

Example:
    >>> import numpy as np, rnnkit
    >>> w = rnnkit.init_weights("gru", input_size=3, hidden_size=4, seed=0)
    >>> out, h = rnnkit.forward("gru", np.ones((2, 5, 3), np.float32), w)
    >>> out.shape, h.shape
    ((2, 5, 4), (2, 4))
"""
from __future__ import annotations

import importlib

from .api import BACKENDS, forward, gradients
from .checks import check_shape, rel_error
from .params import count_params
from .weights import GATES, RNNSpec, init_weights, spec_from_weights

__version__ = "0.1.0"
__all__ = ["BACKENDS", "GATES", "RNNSpec", "check_shape", "count_params", "forward",
           "gradients", "init_weights", "rel_error", "spec_from_weights"]

_LAZY = ("numpy", "torch", "keras", "convert", "data", "train", "plot", "grading", "notebook")


def __getattr__(name):
    # Submodules that import heavy frameworks load on first attribute access.
    if name in _LAZY:
        module = importlib.import_module(f"rnnkit.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")
