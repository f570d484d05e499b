"""A vanilla (Elman) RNN cell written out by hand, as an ``nn.Module`` autograd can train.

The real layer is ``torch.nn.RNN`` (see :func:`rnnkit.torch.layers.build`); this cell computes
the same numbers one step at a time so the equation is visible.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..weights import layer_weights


class RNNCell(nn.Module):
    r"""One step of a vanilla RNN::

        h = tanh(W_ih x + b_ih + W_hh h' + b_hh)        (h' = previous hidden state)

    with ``relu`` in place of ``tanh`` when ``nonlinearity="relu"``.

    Parameters, in the canonical layout of :mod:`rnnkit.weights` (one gate block, g = 1)::

        W_ih (H, D)   W_hh (H, H)   b_ih (H,)   b_hh (H,)

    PyTorch's own ``torch.nn.RNNCell`` holds the same four tensors under the names
    ``weight_ih, weight_hh, bias_ih, bias_hh``. Its two biases are redundant (only their sum
    matters); PyTorch keeps both for cuDNN compatibility, and so does rnnkit.

    Args:
        input_size: D, features per time step.
        hidden_size: H, hidden units.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        dtype: parameter dtype.

    Example:
        >>> cell = RNNCell(input_size=3, hidden_size=5)
        >>> h = cell(torch.zeros(2, 3))  # x (N, D); the state defaults to zeros
        >>> h.shape
        torch.Size([2, 5])
    """

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh",
                 dtype=torch.float32):
        super().__init__()
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; received {nonlinearity!r}")
        self.input_size, self.hidden_size, self.nonlinearity = input_size, hidden_size, nonlinearity
        self.W_ih, self.W_hh, self.b_ih, self.b_hh = add_cell_params(self, 1, dtype)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """Advance one time step.

        Args:
            x: (N, D) input at this step.
            state: h', the (N, H) previous hidden state; zeros if omitted.

        Returns:
            h, the (N, H) new hidden state (which is also this step's output).
        """
        h_prev = x.new_zeros(x.shape[0], self.hidden_size) if state is None else state
        a = x @ self.W_ih.T + self.b_ih + h_prev @ self.W_hh.T + self.b_hh  # (N, H)
        h = torch.tanh(a) if self.nonlinearity == "tanh" else torch.relu(a)
        return h

    @classmethod
    def from_canonical(cls, w: dict, layer: int = 0, suffix: str = "",
                       nonlinearity: str = "tanh") -> "RNNCell":
        """A cell holding one layer and direction of a canonical weight dict.

        Args:
            w: canonical weights (:mod:`rnnkit.weights`), arrays or tensors.
            layer: which layer ``l`` to take (keys ``W_ih_l{l}`` ...).
            suffix: ``""`` for the forward direction, ``"_reverse"`` for the backward one.

        Example:
            >>> from rnnkit.weights import init_weights
            >>> w = init_weights("rnn", input_size=3, hidden_size=4, num_layers=2)
            >>> RNNCell.from_canonical(w, layer=1).W_ih.shape  # layer 1 reads H features
            torch.Size([4, 4])
        """
        W_ih, W_hh, b_ih, b_hh = cell_weights(w, layer, suffix, gates=1)
        cell = cls(W_ih.shape[1], W_hh.shape[1], nonlinearity, dtype=W_ih.dtype)
        load_cell_params(cell, (W_ih, W_hh, b_ih, b_hh))
        return cell


def add_cell_params(cell: nn.Module, gates: int, dtype=torch.float32) -> list[nn.Parameter]:
    """Create ``[W_ih, W_hh, b_ih, b_hh]`` for a cell (which has ``input_size`` and
    ``hidden_size``), initialised as PyTorch does: every entry ~ U(-1/sqrt(H), 1/sqrt(H))."""
    D, H = cell.input_size, cell.hidden_size
    k = 1.0 / math.sqrt(H)
    shapes = [(gates * H, D), (gates * H, H), (gates * H,), (gates * H,)]
    return [nn.Parameter(torch.empty(shape, dtype=dtype).uniform_(-k, k)) for shape in shapes]


def load_cell_params(cell: nn.Module, tensors) -> None:
    """Copy ``[W_ih, W_hh, b_ih, b_hh]`` into a cell's parameters of the same names."""
    with torch.no_grad():
        for p, value in zip((cell.W_ih, cell.W_hh, cell.b_ih, cell.b_hh), tensors):
            p.copy_(value)


def cell_weights(w: dict, layer: int = 0, suffix: str = "", gates: int = 1) -> list[torch.Tensor]:
    """``[W_ih, W_hh, b_ih, b_hh]`` of one layer and direction of a canonical dict, as tensors.

    float64 stays float64; anything else becomes float32. Shared by the three cell files,
    which differ only in the number of gate blocks (1 rnn, 4 lstm, 3 gru).

    Example:
        >>> from rnnkit.weights import init_weights
        >>> [tuple(t.shape) for t in cell_weights(init_weights("gru", 3, 4), gates=3)]
        [(12, 3), (12, 4), (12,), (12,)]
    """
    tensors = [a.detach().cpu() if torch.is_tensor(a) else torch.as_tensor(np.asarray(a))
               for a in layer_weights(w, layer, suffix, gates)]
    dtype = torch.float64 if tensors[0].dtype == torch.float64 else torch.float32
    return [t.to(dtype) for t in tensors]
