"""Converters between the canonical layout and each framework's (table: :mod:`rnnkit.weights`).

All functions here take and return NumPy arrays (torch tensors are accepted as input) and
import no framework, so they can be tested against a plain NumPy reference and used on any
machine.
"""
from __future__ import annotations

import numpy as np


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, possibly requiring grad
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def to_torch_state_dict(w: dict) -> dict[str, np.ndarray]:
    """Canonical -> PyTorch ``nn.RNN/LSTM/GRU`` state-dict names (``W_ih_l0`` -> ``weight_ih_l0``).

    Example:
        >>> from rnnkit.weights import init_weights
        >>> sorted(to_torch_state_dict(init_weights("rnn", 2, 3)))
        ['bias_hh_l0', 'bias_ih_l0', 'weight_hh_l0', 'weight_ih_l0']
    """
    prefix = {"W": "weight", "b": "bias"}
    return {prefix[k[0]] + k[1:]: np.array(v) for k, v in w.items()}


def from_torch_state_dict(state_dict: dict) -> dict[str, np.ndarray]:
    """PyTorch state dict (tensors or arrays) -> canonical dict; the inverse of the above."""
    prefix = {"weight": "W", "bias": "b"}
    out = {}
    for k, v in state_dict.items():
        head, _, rest = k.partition("_")
        if head not in prefix:
            raise ValueError(f"unexpected state-dict key {k!r}: expected weight_* or bias_*")
        out[prefix[head] + "_" + rest] = _to_numpy(v).copy()
    return out
