"""A GRU cell written out by hand, as an ``nn.Module`` autograd can train.

The real layer is ``torch.nn.GRU`` (see :func:`rnnkit.torch.layers.build`); this cell computes
the same numbers one step at a time so every gate is visible.
"""
from __future__ import annotations

import torch
from torch import nn

from .rnn import add_cell_params, cell_weights, load_cell_params


class GRUCell(nn.Module):
    r"""One step of a gated recurrent unit (Cho et al. 2014), PyTorch's form::

        r = sigmoid(W_ir x + b_ir + W_hr h' + b_hr)        reset gate
        z = sigmoid(W_iz x + b_iz + W_hz h' + b_hz)        update gate
        n =    tanh(W_in x + b_in + r * (W_hn h' + b_hn))  candidate state
        h = (1 - z) * n + z * h'

    (``h'``: the previous hidden state; ``*`` is element-wise.) The gates are stacked along the
    rows, PyTorch's layout (canonical in :mod:`rnnkit.weights`)::

        W_ih = (W_ir|W_iz|W_in)  (3H, D)    b_ih (3H,)
        W_hh = (W_hr|W_hz|W_hn)  (3H, H)    b_hh (3H,)

    Where frameworks differ: ``r`` multiplies ``W_hn h' + b_hn`` *after* the recurrent matmul
    (PyTorch, cuDNN, Keras ``reset_after=True``). The original paper and Keras
    ``reset_after=False`` compute ``W_hn (r * h')`` instead: a different function, and it
    has one bias per gate, not two. Keras also orders the gate columns z|r|h, not r|z|n.

    Args:
        input_size: D, features per time step.
        hidden_size: H, hidden units.
        dtype: parameter dtype.

    Example:
        >>> cell = GRUCell(input_size=3, hidden_size=5)
        >>> h = cell(torch.zeros(2, 3))  # x (N, D); the state defaults to zeros
        >>> h.shape
        torch.Size([2, 5])
    """

    def __init__(self, input_size: int, hidden_size: int, dtype=torch.float32):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.W_ih, self.W_hh, self.b_ih, self.b_hh = add_cell_params(self, 3, dtype)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """Advance one time step.

        Args:
            x: (N, D) input at this step.
            state: h', the (N, H) previous hidden state; zeros if omitted.

        Returns:
            h, the (N, H) new hidden state (which is also this step's output).
        """
        h_prev = x.new_zeros(x.shape[0], self.hidden_size) if state is None else state
        # The input and recurrent halves stay apart: r must scale the recurrent n-block alone.
        x_r, x_z, x_n = (x @ self.W_ih.T + self.b_ih).chunk(3, dim=1)       # each (N, H)
        h_r, h_z, h_n = (h_prev @ self.W_hh.T + self.b_hh).chunk(3, dim=1)  # each (N, H)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = (1 - z) * n + z * h_prev  # z = 1 copies the old state through unchanged
        return h

    @classmethod
    def from_canonical(cls, w: dict, layer: int = 0, suffix: str = "") -> "GRUCell":
        """A cell holding one layer and direction of a canonical weight dict.

        Args:
            w: canonical weights (:mod:`rnnkit.weights`), arrays or tensors.
            layer: which layer ``l`` to take (keys ``W_ih_l{l}`` ...).
            suffix: ``""`` for the forward direction, ``"_reverse"`` for the backward one.

        Example:
            >>> from rnnkit.weights import init_weights
            >>> w = init_weights("gru", input_size=3, hidden_size=4)
            >>> GRUCell.from_canonical(w).W_ih.shape  # (3H, D)
            torch.Size([12, 3])
        """
        W_ih, W_hh, b_ih, b_hh = cell_weights(w, layer, suffix, gates=3)
        cell = cls(W_ih.shape[1], W_hh.shape[1], dtype=W_ih.dtype)
        load_cell_params(cell, (W_ih, W_hh, b_ih, b_hh))
        return cell
