"""The from-scratch NumPy backend: every forward and backward pass written out by hand.

Modules, the same names in every backend:

    rnn, lstm, gru   one cell each: ``step_forward``/``step_backward`` for one time step,
                     ``forward``/``backward`` for one layer and direction over a sequence
    layers           stacked and bidirectional layers, variable lengths, truncated BPTT:
                     the ``forward``/``gradients`` pair that :mod:`rnnkit.api` calls
    optim            gradient clipping, SGD with momentum, Adam (PyTorch's update rules)
    gradcheck        finite-difference gradient checks

Shapes: N batch, T time, D input features, H hidden units; batch first, ``(N, T, D)``.
This package imports NumPy only.

Example:
    >>> import numpy as np
    >>> from rnnkit.numpy import lstm
    >>> rng = np.random.default_rng(0)
    >>> N, T, D, H = 2, 5, 3, 4
    >>> s0 = np.zeros((N, H))
    >>> hs, h_T, c_T, cache = lstm.forward(rng.normal(size=(N, T, D)), s0, s0,
    ...                                    rng.normal(size=(4 * H, D)), rng.normal(size=(4 * H, H)),
    ...                                    np.zeros(4 * H), np.zeros(4 * H))
    >>> grads = lstm.backward(np.ones_like(hs), cache)
    >>> hs.shape, grads.dW_hh.shape
    ((2, 5, 4), (16, 4))
"""
from . import gradcheck, gru, layers, lstm, optim, rnn

__all__ = ["gradcheck", "gru", "layers", "lstm", "optim", "rnn"]
