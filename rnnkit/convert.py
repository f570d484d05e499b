"""Converters between the canonical layout and each framework's (table: :mod:`rnnkit.weights`).

All functions here take and return NumPy arrays (torch tensors are accepted as input) and
import no framework, so they can be tested against a plain NumPy reference and used on any
machine.
"""
from __future__ import annotations

import numpy as np

from .weights import spec_from_weights


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


# ----------------------------------------------------------------------------- Keras and TF1
# The layouts below are the table in rnnkit.weights ("How the other frameworks store the same
# numbers"). Keras and TF1 store x @ W (weights as columns), PyTorch W @ x (rows), so every
# matrix is transposed on the way; only the GRU's and TF1's gate *order* differs as well.

KERAS_GATE_ORDER = {"rnn": (0,), "lstm": (0, 1, 2, 3), "gru": (1, 0, 2)}
"""Keras column block k holds canonical row block ``KERAS_GATE_ORDER[cell][k]``.

LSTM: Keras i|f|c|o is canonical i|f|g|o (c is Keras's name for the candidate g). GRU: Keras
z|r|h is canonical z|r|n moved from r|z|n, so blocks 0 and 1 swap.
"""

TF1_GATE_ORDER = (0, 2, 1, 3)
"""TF1 ``LSTMCell`` column block k holds canonical block ``TF1_GATE_ORDER[k]``: i|j|f|o from
i|f|g|o, with j the candidate (canonical g)."""


def _reorder(a: np.ndarray, order, axis: int = 0) -> np.ndarray:
    """Rearrange the equal gate blocks of ``a`` along ``axis``: block k of the result is
    block ``order[k]`` of ``a``."""
    blocks = np.split(np.asarray(a), len(order), axis=axis)
    return np.concatenate([blocks[k] for k in order], axis=axis)


def _inverse(order) -> tuple[int, ...]:
    return tuple(int(k) for k in np.argsort(order))


def to_keras(cell: str, w: dict) -> list[list[np.ndarray]]:
    """Canonical -> Keras ``[kernel, recurrent_kernel, bias]`` per layer and direction.

    The list follows :meth:`~rnnkit.weights.RNNSpec.suffixes` (layer-major, forward before
    reverse), the order in which :func:`rnnkit.keras.layers.build` stacks its Keras layers.
    SimpleRNN and LSTM fuse the two biases into one, ``b_ih + b_hh``; the GRU
    (``reset_after=True``) keeps both as the rows of a ``(2, 3H)`` bias.

    Example:
        >>> from rnnkit.weights import init_weights
        >>> kernel, recurrent_kernel, bias = to_keras("gru", init_weights("gru", 2, 5))[0]
        >>> kernel.shape, recurrent_kernel.shape, bias.shape
        ((2, 15), (5, 15), (2, 15))
    """
    spec = spec_from_weights(cell, w)
    order = KERAS_GATE_ORDER[cell]
    out = []
    for _, _, sfx in spec.suffixes():
        kernel = _reorder(w["W_ih" + sfx], order).T             # (D_l, g*H)
        recurrent_kernel = _reorder(w["W_hh" + sfx], order).T   # (H, g*H)
        b_ih, b_hh = _reorder(w["b_ih" + sfx], order), _reorder(w["b_hh" + sfx], order)
        bias = np.stack([b_ih, b_hh]) if cell == "gru" else b_ih + b_hh  # (2, 3H) or (g*H,)
        out.append([np.ascontiguousarray(kernel), np.ascontiguousarray(recurrent_kernel), bias])
    return out


def from_keras(cell: str, weights: list, bidirectional: bool = False,
               fused_bias: str = "input") -> dict[str, np.ndarray]:
    """Keras ``[kernel, recurrent_kernel, bias]`` per layer and direction -> canonical.

    Args:
        weights: as returned by :func:`to_keras` (same order).
        bidirectional: whether consecutive entries are the forward and reverse direction of
            one layer (the list alone cannot tell a 2-layer RNN from a bidirectional one).
        fused_bias: where a SimpleRNN's or LSTM's single bias goes. ``"input"``: all of it in
            ``b_ih``, zeros in ``b_hh``; the sum ``b_ih + b_hh`` that the cell uses is kept,
            so canonical -> Keras -> canonical is exact only for weights with ``b_hh = 0``
            (e.g. ``init_weights(..., scheme="keras")``). ``"both"``: a copy in each, which
            is right for *gradients*, since d(b_ih + b_hh)/d b_ih = d(b_ih + b_hh)/d b_hh = 1.

    Example:
        >>> from rnnkit.weights import init_weights
        >>> w = init_weights("lstm", 3, 4, bidirectional=True, scheme="keras")
        >>> back = from_keras("lstm", to_keras("lstm", w), bidirectional=True)
        >>> all(np.array_equal(back[k], w[k]) for k in w)
        True
    """
    if fused_bias not in ("input", "both"):
        raise ValueError(f"fused_bias must be 'input' or 'both'; received {fused_bias!r}")
    dirs = 2 if bidirectional else 1
    if len(weights) % dirs:
        raise ValueError(f"a bidirectional RNN has two [kernel, recurrent_kernel, bias] entries "
                         f"per layer; received {len(weights)}")
    inverse = _inverse(KERAS_GATE_ORDER[cell])
    w = {}
    for i, (kernel, recurrent_kernel, bias) in enumerate(weights):
        layer, direction = divmod(i, dirs)
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        kernel, recurrent_kernel, bias = (_to_numpy(a) for a in (kernel, recurrent_kernel, bias))
        w["W_ih" + sfx] = _reorder(kernel.T, inverse)            # (g*H, D_l)
        w["W_hh" + sfx] = _reorder(recurrent_kernel.T, inverse)  # (g*H, H)
        if cell == "gru":
            b_ih, b_hh = _reorder(bias[0], inverse), _reorder(bias[1], inverse)
        else:
            b_ih = _reorder(bias, inverse)
            b_hh = b_ih.copy() if fused_bias == "both" else np.zeros_like(b_ih)
        w["b_ih" + sfx], w["b_hh" + sfx] = b_ih, b_hh
    spec_from_weights(cell, w)  # every shape checked, with a message naming the culprit
    return w


def to_tf1_lstm(w: dict, forget_bias: float = 1.0,
                layer: str = "_l0") -> tuple[np.ndarray, np.ndarray]:
    """One canonical LSTM layer-direction -> TF1 ``LSTMCell`` ``(kernel, bias)``.

    TF1 computes ``i, j, f, o = split([x, h] @ kernel + bias)`` and then uses
    ``sigmoid(f + forget_bias)``: the forget bias is added at call time, not stored. So the
    stored f bias is ``b_ih + b_hh - forget_bias``, and TF1 adds ``forget_bias`` back.

    Args:
        layer: the canonical suffix to export, ``"_l0"``, ``"_l1_reverse"``, ...

    Returns:
        kernel (D+H, 4H) over the concatenation ``[x, h]``, columns i|j|f|o; bias (4H,).

    Example:
        >>> from rnnkit.weights import init_weights
        >>> kernel, bias = to_tf1_lstm(init_weights("lstm", 3, 5))
        >>> kernel.shape, bias.shape
        ((8, 20), (20,))
    """
    W = np.concatenate([w["W_ih" + layer], w["W_hh" + layer]], axis=1)  # (4H, D+H)
    b = w["b_ih" + layer] + w["b_hh" + layer]                           # (4H,)
    H = b.shape[0] // 4
    b = b.copy()
    b[H:2 * H] -= forget_bias                                           # f rows, canonical order
    return np.ascontiguousarray(_reorder(W, TF1_GATE_ORDER).T), _reorder(b, TF1_GATE_ORDER)


def from_tf1_lstm(kernel, bias, input_size: int,
                  forget_bias: float = 1.0) -> dict[str, np.ndarray]:
    """TF1 ``LSTMCell`` ``(kernel, bias)`` -> canonical one-layer LSTM weights (``_l0``).

    The inverse of :func:`to_tf1_lstm`; ``forget_bias`` is folded into ``b_ih``'s f rows and
    ``b_hh`` is zero. ``input_size`` (D) says where ``kernel``'s x rows end and h rows begin.

    Example:
        >>> kernel, bias = np.zeros((3 + 5, 20)), np.zeros(20)
        >>> w = from_tf1_lstm(kernel, bias, input_size=3)
        >>> w["W_ih_l0"].shape, w["W_hh_l0"].shape, w["b_ih_l0"][5:10]
        ((20, 3), (20, 5), array([1., 1., 1., 1., 1.]))
    """
    kernel, bias = _to_numpy(kernel), _to_numpy(bias)
    inverse = _inverse(TF1_GATE_ORDER)
    W = _reorder(kernel.T, inverse)       # (4H, D+H), rows i|f|g|o
    b = _reorder(bias, inverse).copy()    # (4H,)
    H = b.shape[0] // 4
    if kernel.shape != (input_size + H, 4 * H):
        raise ValueError(f"a TF1 LSTMCell kernel must have shape (D+H, 4H) = "
                         f"{(input_size + H, 4 * H)} for D={input_size}, H={H}; "
                         f"received {kernel.shape}")
    b[H:2 * H] += forget_bias
    return {"W_ih_l0": W[:, :input_size].copy(), "W_hh_l0": W[:, input_size:].copy(),
            "b_ih_l0": b, "b_hh_l0": np.zeros_like(b)}
