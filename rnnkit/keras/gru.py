"""A GRU cell written out by hand, as a Keras layer.

The real layer is ``keras.layers.GRU(reset_after=True)`` (see :func:`rnnkit.keras.layers.build`);
this cell computes the same numbers one step at a time so every gate is visible. It runs over
a sequence inside ``keras.layers.RNN`` (:func:`rnnkit.keras.layers.run`).
"""
from __future__ import annotations

import keras
from keras import ops

from .rnn import add_cell_weights, cell_weights, load_cell_weights


class GRUCell(keras.layers.Layer):
    r"""One step of a gated recurrent unit (Cho et al. 2014), PyTorch's form::

        r = sigmoid(W_ir x + b_ir + W_hr h' + b_hr)        reset gate
        z = sigmoid(W_iz x + b_iz + W_hz h' + b_hz)        update gate
        n =    tanh(W_in x + b_in + r * (W_hn h' + b_hn))  candidate state
        h = (1 - z) * n + z * h'

    (``h'``: the previous hidden state; ``*`` is element-wise.) The gates are stacked along the
    rows, the canonical layout of :mod:`rnnkit.weights`::

        W_ih = (W_ir|W_iz|W_in)  (3H, D)    b_ih (3H,)
        W_hh = (W_hr|W_hz|W_hn)  (3H, H)    b_hh (3H,)

    Where Keras differs: ``keras.layers.GRUCell(reset_after=True)`` computes the same function
    (``r`` multiplies ``W_hn h' + b_hn`` *after* the recurrent matmul) but stores
    ``kernel (D, 3H)`` and ``recurrent_kernel (H, 3H)`` with the gates as columns z|r|h, and
    its bias (2, 3H) as the rows ``[input bias, recurrent bias]``. ``reset_after=False`` (the
    original paper, Keras 2's default) computes ``W_hn (r * h')``: a different function.

    Args:
        input_size: D, features per time step.
        hidden_size: H, hidden units.
        dtype: variable dtype.

    Example:
        >>> import numpy as np
        >>> cell = GRUCell(input_size=3, hidden_size=5)
        >>> h, states = cell(np.zeros((2, 3), "float32"), [np.zeros((2, 5), "float32")])
        >>> tuple(h.shape)
        (2, 5)
    """

    def __init__(self, input_size: int, hidden_size: int, dtype="float32", **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.state_size = self.output_size = hidden_size  # what keras.layers.RNN reads
        self.W_ih, self.W_hh, self.b_ih, self.b_hh = add_cell_weights(self, 3)

    def call(self, x, states):
        """Advance one time step: x (N, D) and ``[h']`` (N, H) -> ``(h, [h])``."""
        h_prev = states[0]
        a_i = ops.matmul(x, ops.transpose(self.W_ih)) + self.b_ih       # (N, 3H), rows r|z|n
        a_h = ops.matmul(h_prev, ops.transpose(self.W_hh)) + self.b_hh  # (N, 3H)
        a_ir, a_iz, a_in = ops.split(a_i, 3, axis=1)                    # each (N, H)
        a_hr, a_hz, a_hn = ops.split(a_h, 3, axis=1)
        r = ops.sigmoid(a_ir + a_hr)
        z = ops.sigmoid(a_iz + a_hz)
        n = ops.tanh(a_in + r * a_hn)  # r gates the recurrent term, bias b_hn included
        h = (1 - z) * n + z * h_prev   # z = 1 keeps the old state, z = 0 takes the candidate
        return h, [h]

    @classmethod
    def from_canonical(cls, w: dict, layer: int = 0, suffix: str = "") -> "GRUCell":
        """A cell holding one layer and direction of a canonical weight dict.

        Args:
            w: canonical weights (:mod:`rnnkit.weights`).
            layer: which layer ``l`` to take (keys ``W_ih_l{l}`` ...).
            suffix: ``""`` for the forward direction, ``"_reverse"`` for the backward one.

        Example:
            >>> from rnnkit.weights import init_weights
            >>> tuple(GRUCell.from_canonical(init_weights("gru", 3, 4)).W_ih.shape)  # (3H, D)
            (12, 3)
        """
        arrays = cell_weights(w, layer, suffix, gates=3)
        cell = cls(arrays[0].shape[1], arrays[1].shape[1], dtype=arrays[0].dtype.name)
        load_cell_weights(cell, arrays)
        return cell
