"""An LSTM cell written out by hand, as a Keras layer.

The real layer is ``keras.layers.LSTM`` (see :func:`rnnkit.keras.layers.build`); this cell
computes the same numbers one step at a time so every gate is visible. It runs over a sequence
inside ``keras.layers.RNN`` (:func:`rnnkit.keras.layers.run`).
"""
from __future__ import annotations

import keras
from keras import ops

from .rnn import add_cell_weights, cell_weights, load_cell_weights


class LSTMCell(keras.layers.Layer):
    r"""One step of a long short-term memory cell (Hochreiter & Schmidhuber 1997)::

        i = sigmoid(W_ii x + b_ii + W_hi h' + b_hi)     input gate
        f = sigmoid(W_if x + b_if + W_hf h' + b_hf)     forget gate
        g =    tanh(W_ig x + b_ig + W_hg h' + b_hg)     candidate cell
        o = sigmoid(W_io x + b_io + W_ho h' + b_ho)     output gate
        c = f * c' + i * g
        h = o * tanh(c)

    (``h'``, ``c'``: the previous step's state; ``*`` is element-wise.) The four gates are
    stacked along the rows, the canonical layout of :mod:`rnnkit.weights`::

        W_ih = (W_ii|W_if|W_ig|W_io)  (4H, D)    b_ih (4H,)
        W_hh = (W_hi|W_hf|W_hg|W_ho)  (4H, H)    b_hh (4H,)

    Where Keras differs: ``keras.layers.LSTMCell`` stores ``kernel (D, 4H)`` and
    ``recurrent_kernel (H, 4H)``, the same gates as *columns* i|f|c|o (its c is our g), and one
    fused bias (4H,) = ``b_ih + b_hh``, initialised with the forget block at 1
    (``unit_forget_bias=True``). Its states are the list ``[h, c]``, as here.

    Args:
        input_size: D, features per time step.
        hidden_size: H, hidden units (the size of both h and c).
        dtype: variable dtype.

    Example:
        >>> import numpy as np
        >>> cell = LSTMCell(input_size=3, hidden_size=5)
        >>> zeros = np.zeros((2, 5), "float32")
        >>> h, (h_again, c) = cell(np.zeros((2, 3), "float32"), [zeros, zeros])
        >>> tuple(h.shape), tuple(c.shape)
        ((2, 5), (2, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, dtype="float32", **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.state_size = [hidden_size, hidden_size]  # [h, c], what keras.layers.RNN reads
        self.output_size = hidden_size
        self.W_ih, self.W_hh, self.b_ih, self.b_hh = add_cell_weights(self, 4)

    def call(self, x, states):
        """Advance one time step: x (N, D) and ``[h', c']`` (N, H) each -> ``(h, [h, c])``."""
        h_prev, c_prev = states
        a = (ops.matmul(x, ops.transpose(self.W_ih)) + self.b_ih
             + ops.matmul(h_prev, ops.transpose(self.W_hh)) + self.b_hh)  # (N, 4H)
        a_i, a_f, a_g, a_o = ops.split(a, 4, axis=1)  # each (N, H), rows i|f|g|o
        i = ops.sigmoid(a_i)
        f = ops.sigmoid(a_f)
        g = ops.tanh(a_g)
        o = ops.sigmoid(a_o)
        c = f * c_prev + i * g  # the additive path that lets gradients survive many steps
        h = o * ops.tanh(c)
        return h, [h, c]

    @classmethod
    def from_canonical(cls, w: dict, layer: int = 0, suffix: str = "") -> "LSTMCell":
        """A cell holding one layer and direction of a canonical weight dict.

        Args:
            w: canonical weights (:mod:`rnnkit.weights`).
            layer: which layer ``l`` to take (keys ``W_ih_l{l}`` ...).
            suffix: ``""`` for the forward direction, ``"_reverse"`` for the backward one.

        Example:
            >>> from rnnkit.weights import init_weights
            >>> w = init_weights("lstm", input_size=3, hidden_size=4, bidirectional=True)
            >>> tuple(LSTMCell.from_canonical(w, suffix="_reverse").W_hh.shape)  # (4H, H)
            (16, 4)
        """
        arrays = cell_weights(w, layer, suffix, gates=4)
        cell = cls(arrays[0].shape[1], arrays[1].shape[1], dtype=arrays[0].dtype.name)
        load_cell_weights(cell, arrays)
        return cell
