"""An LSTM cell written out by hand, as an ``nn.Module`` autograd can train.

The real layer is ``torch.nn.LSTM`` (see :func:`rnnkit.torch.layers.build`); this cell computes
the same numbers one step at a time so every gate is visible.
"""
from __future__ import annotations

import torch
from torch import nn

from .rnn import add_cell_params, cell_weights, load_cell_params


class LSTMCell(nn.Module):
    r"""One step of a long short-term memory cell (Hochreiter & Schmidhuber 1997)::

        i = sigmoid(W_ii x + b_ii + W_hi h' + b_hi)     input gate
        f = sigmoid(W_if x + b_if + W_hf h' + b_hf)     forget gate
        g =    tanh(W_ig x + b_ig + W_hg h' + b_hg)     candidate cell
        o = sigmoid(W_io x + b_io + W_ho h' + b_ho)     output gate
        c = f * c' + i * g
        h = o * tanh(c)

    (``h'``, ``c'``: the previous step's state; ``*`` is element-wise.) The four gates are
    stacked along the rows, PyTorch's layout (canonical in :mod:`rnnkit.weights`)::

        W_ih = (W_ii|W_if|W_ig|W_io)  (4H, D)    b_ih (4H,)
        W_hh = (W_hi|W_hf|W_hg|W_ho)  (4H, H)    b_hh (4H,)

    so one matmul per input computes all four pre-activations, split afterwards.

    Where PyTorch differs: ``torch.nn.LSTMCell`` names the tensors ``weight_ih`` etc. and takes
    and returns the state as a tuple ``(h, c)``, as here. Keras orders the gate columns
    i|f|c|o (same order, transposed) with one fused bias.

    Args:
        input_size: D, features per time step.
        hidden_size: H, hidden units (the size of both h and c).
        dtype: parameter dtype.

    Example:
        >>> cell = LSTMCell(input_size=3, hidden_size=5)
        >>> h, c = cell(torch.zeros(2, 3))  # x (N, D); the state defaults to zeros
        >>> h.shape, c.shape
        (torch.Size([2, 5]), torch.Size([2, 5]))
    """

    def __init__(self, input_size: int, hidden_size: int, dtype=torch.float32):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.W_ih, self.W_hh, self.b_ih, self.b_hh = add_cell_params(self, 4, dtype)

    def forward(self, x: torch.Tensor,
                state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Advance one time step.

        Args:
            x: (N, D) input at this step.
            state: ``(h', c')``, each (N, H); zeros if omitted.

        Returns:
            ``(h, c)``, each (N, H); h is also this step's output.
        """
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        h_prev, c_prev = state
        a = x @ self.W_ih.T + self.b_ih + h_prev @ self.W_hh.T + self.b_hh  # (N, 4H)
        a_i, a_f, a_g, a_o = a.chunk(4, dim=1)  # each (N, H), rows i|f|g|o
        i = torch.sigmoid(a_i)
        f = torch.sigmoid(a_f)
        g = torch.tanh(a_g)
        o = torch.sigmoid(a_o)
        c = f * c_prev + i * g  # the additive path that lets gradients survive many steps
        h = o * torch.tanh(c)
        return h, c

    @classmethod
    def from_canonical(cls, w: dict, layer: int = 0, suffix: str = "") -> "LSTMCell":
        """A cell holding one layer and direction of a canonical weight dict.

        Args:
            w: canonical weights (:mod:`rnnkit.weights`), arrays or tensors.
            layer: which layer ``l`` to take (keys ``W_ih_l{l}`` ...).
            suffix: ``""`` for the forward direction, ``"_reverse"`` for the backward one.

        Example:
            >>> from rnnkit.weights import init_weights
            >>> w = init_weights("lstm", input_size=3, hidden_size=4, bidirectional=True)
            >>> LSTMCell.from_canonical(w, suffix="_reverse").W_hh.shape  # (4H, H)
            torch.Size([16, 4])
        """
        W_ih, W_hh, b_ih, b_hh = cell_weights(w, layer, suffix, gates=4)
        cell = cls(W_ih.shape[1], W_hh.shape[1], dtype=W_ih.dtype)
        load_cell_params(cell, (W_ih, W_hh, b_ih, b_hh))
        return cell
