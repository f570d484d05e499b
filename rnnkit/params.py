"""Parameter counts as each framework reports them."""
from __future__ import annotations

from .weights import GATES, RNNSpec, check_cell

CONVENTIONS = ("torch", "keras")


def count_params(cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, convention: str = "torch") -> int:
    """Number of trainable parameters of a recurrent layer stack.

    Per layer and direction, with ``g`` gates (1, 4, 3 for rnn, lstm, gru) and layer input
    size ``D_l`` (D for the first layer, H*directions above it)::

        weights  g*H*(D_l + H)
        biases   2*g*H   PyTorch (b_ih and b_hh), and Keras GRU with reset_after=True
                 g*H     Keras SimpleRNN and LSTM (one fused bias)

    Args:
        convention: ``"torch"`` matches ``sum(p.numel() for p in module.parameters())``;
            ``"keras"`` matches ``model.count_params()``.

    Example:
        >>> count_params("lstm", 32, 128), count_params("lstm", 32, 128, convention="keras")
        (82944, 82432)
    """
    check_cell(cell)
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}: expected one of {CONVENTIONS}")
    spec = RNNSpec(cell, input_size, hidden_size, num_layers, bidirectional)
    g, H = GATES[cell], hidden_size
    biases = 2 if (convention == "torch" or cell == "gru") else 1
    total = 0
    for layer, _, _ in spec.suffixes():
        total += g * H * (spec.layer_input_size(layer) + H) + biases * g * H
    return total
