"""A vanilla (Elman) RNN cell written out by hand, as a Keras layer.

The real layer is ``keras.layers.SimpleRNN`` (see :func:`rnnkit.keras.layers.build`); this cell
computes the same numbers one step at a time so the equation is visible. Like any Keras RNN
cell it runs over a sequence inside ``keras.layers.RNN`` (:func:`rnnkit.keras.layers.run`).
"""
from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from ..weights import layer_weights


class RNNCell(keras.layers.Layer):
    r"""One step of a vanilla RNN::

        h = tanh(W_ih x + b_ih + W_hh h' + b_hh)        (h' = previous hidden state)

    with ``relu`` in place of ``tanh`` when ``nonlinearity="relu"``.

    Variables, in the canonical layout of :mod:`rnnkit.weights` (one gate block, g = 1)::

        W_ih (H, D)   W_hh (H, H)   b_ih (H,)   b_hh (H,)

    Keras's own ``SimpleRNNCell`` stores the transposes, ``kernel (D, H)`` and
    ``recurrent_kernel (H, H)``, and one bias (H,) that plays the role of ``b_ih + b_hh``.

    A Keras cell is called as ``cell(x, states)`` with ``states`` a list, and returns
    ``(output, new_states)``: here ``(h, [h])``. (The PyTorch twin returns ``h`` alone.)

    Args:
        input_size: D, features per time step.
        hidden_size: H, hidden units.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        dtype: variable dtype.

    Example:
        >>> cell = RNNCell(input_size=3, hidden_size=5)
        >>> h, states = cell(np.zeros((2, 3), "float32"), [np.zeros((2, 5), "float32")])
        >>> tuple(h.shape)  # x (N, D), h' (N, H) -> h (N, H)
        (2, 5)
    """

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh",
                 dtype="float32", **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; received {nonlinearity!r}")
        self.input_size, self.hidden_size, self.nonlinearity = input_size, hidden_size, nonlinearity
        self.state_size = self.output_size = hidden_size  # what keras.layers.RNN reads
        self.W_ih, self.W_hh, self.b_ih, self.b_hh = add_cell_weights(self, 1)

    def call(self, x, states):
        """Advance one time step: x (N, D) and ``[h']`` (N, H) -> ``(h, [h])``."""
        h_prev = states[0]
        a = (ops.matmul(x, ops.transpose(self.W_ih)) + self.b_ih
             + ops.matmul(h_prev, ops.transpose(self.W_hh)) + self.b_hh)  # (N, H)
        h = ops.tanh(a) if self.nonlinearity == "tanh" else ops.relu(a)
        return h, [h]

    @classmethod
    def from_canonical(cls, w: dict, layer: int = 0, suffix: str = "",
                       nonlinearity: str = "tanh") -> "RNNCell":
        """A cell holding one layer and direction of a canonical weight dict.

        Args:
            w: canonical weights (:mod:`rnnkit.weights`).
            layer: which layer ``l`` to take (keys ``W_ih_l{l}`` ...).
            suffix: ``""`` for the forward direction, ``"_reverse"`` for the backward one.

        Example:
            >>> from rnnkit.weights import init_weights
            >>> w = init_weights("rnn", input_size=3, hidden_size=4, num_layers=2)
            >>> tuple(RNNCell.from_canonical(w, layer=1).W_ih.shape)  # layer 1 reads H features
            (4, 4)
        """
        arrays = cell_weights(w, layer, suffix, gates=1)
        cell = cls(arrays[0].shape[1], arrays[1].shape[1], nonlinearity, dtype=arrays[0].dtype.name)
        load_cell_weights(cell, arrays)
        return cell


def add_cell_weights(layer: keras.layers.Layer, gates: int) -> list:
    """Create ``[W_ih, W_hh, b_ih, b_hh]`` on ``layer`` (which has ``input_size`` and
    ``hidden_size``), initialised like PyTorch: every entry ~ U(-1/sqrt(H), 1/sqrt(H))."""
    D, H = layer.input_size, layer.hidden_size
    k = 1.0 / math.sqrt(H)
    init = keras.initializers.RandomUniform(-k, k)
    shapes = {"W_ih": (gates * H, D), "W_hh": (gates * H, H),
              "b_ih": (gates * H,), "b_hh": (gates * H,)}
    return [layer.add_weight(shape=shape, initializer=init, name=name)
            for name, shape in shapes.items()]


def load_cell_weights(cell: keras.layers.Layer, arrays: list[np.ndarray]) -> None:
    """Assign ``[W_ih, W_hh, b_ih, b_hh]`` to a cell's variables of the same names."""
    for variable, value in zip((cell.W_ih, cell.W_hh, cell.b_ih, cell.b_hh), arrays):
        variable.assign(value)


def cell_weights(w: dict, layer: int = 0, suffix: str = "", gates: int = 1) -> list[np.ndarray]:
    """``[W_ih, W_hh, b_ih, b_hh]`` of one layer and direction of a canonical dict.

    float64 stays float64; anything else becomes float32. Shared by the three cell files,
    which differ only in the number of gate blocks (1 rnn, 4 lstm, 3 gru).

    Example:
        >>> from rnnkit.weights import init_weights
        >>> [a.shape for a in cell_weights(init_weights("gru", 3, 4), gates=3)]
        [(12, 3), (12, 4), (12,), (12,)]
    """
    arrays = [np.asarray(a) for a in layer_weights(w, layer, suffix, gates)]
    dtype = np.float64 if arrays[0].dtype == np.float64 else np.float32
    return [a.astype(dtype) for a in arrays]
