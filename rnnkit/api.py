"""The public contract: ``forward`` and ``gradients`` with the same names on every backend.

Each backend package (``rnnkit.numpy``, ``rnnkit.torch``, ``rnnkit.keras``) provides, in its
``layers`` module::

    forward(spec, x, w, h0, lengths, nonlinearity) -> (out, state)
    gradients(spec, x, w, dout, h0, lengths, nonlinearity) -> dict

already validated by this module, with states always in the stacked form
``(layers*directions, N, H)`` (PyTorch's ``h_n`` order: layer-major, forward before reverse).
This module checks the inputs, picks the backend (importing torch or TensorFlow only now),
and converts the state to the public form.
"""
from __future__ import annotations

import importlib

import numpy as np

from .weights import RNNSpec, spec_from_weights

BACKENDS = ("numpy", "torch", "keras")


def _backend(name: str):
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: expected one of {BACKENDS}")
    return importlib.import_module(f"rnnkit.{name}.layers")


def _check_x(spec: RNNSpec, x) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[2] != spec.input_size:
        raise ValueError(f"x must have shape (N, T, D) = (N, T, {spec.input_size}) for these "
                         f"weights; received {x.shape}")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x needs N >= 1 and T >= 1; received shape {x.shape}")
    return x


def _check_lengths(x: np.ndarray, lengths):
    if lengths is None:
        return None
    N, T = x.shape[:2]
    lengths = np.asarray(lengths)
    if lengths.shape != (N,) or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths must be an integer array of shape (N,) = ({N},); "
                         f"received {lengths.dtype} {lengths.shape}")
    if lengths.min() < 1 or lengths.max() > T:
        raise ValueError(f"every length must lie in [1, T] = [1, {T}]; received {lengths.tolist()}")
    return lengths.astype(np.int64)


def _stack_state(spec: RNNSpec, s, N: int, name: str, dtype):
    """Public state (N, H) or (L*dirs, N, H) -> stacked (L*dirs, N, H)."""
    LD, H = spec.num_layers * spec.directions, spec.hidden_size
    if s is None:
        return np.zeros((LD, N, H), dtype)
    s = np.asarray(s, dtype)
    if s.shape == (N, H) and LD == 1:
        return s[None]
    if s.shape != (LD, N, H):
        want = f"(N, H) = {(N, H)}" if LD == 1 else f"(layers*directions, N, H) = {(LD, N, H)}"
        raise ValueError(f"{name} must have shape {want}; received {s.shape}")
    return s


def _unstack_state(spec: RNNSpec, s: np.ndarray) -> np.ndarray:
    return s[0] if spec.num_layers * spec.directions == 1 else s


def _prepare(cell, x, w, h0, lengths, nonlinearity):
    spec = spec_from_weights(cell, w)
    x = _check_x(spec, x)
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; received {nonlinearity!r}")
    if nonlinearity != "tanh" and cell != "rnn":
        raise ValueError(f"nonlinearity applies to cell='rnn' only; received cell={cell!r}")
    N, dtype = x.shape[0], x.dtype if x.dtype in (np.float32, np.float64) else np.float32
    x = x.astype(dtype, copy=False)
    w = {k: np.asarray(v, dtype) for k, v in w.items()}
    if cell == "lstm":
        h, c = (None, None) if h0 is None else h0
        state0 = (_stack_state(spec, h, N, "h0", dtype), _stack_state(spec, c, N, "c0", dtype))
    else:
        if isinstance(h0, tuple):
            raise ValueError(f"a {cell} has one state h (no cell state c); received a tuple h0")
        state0 = _stack_state(spec, h0, N, "h0", dtype)
    return spec, x, w, state0, _check_lengths(x, lengths)


def forward(cell: str, x, w: dict, backend: str = "numpy", h0=None, lengths=None,
            nonlinearity: str = "tanh"):
    """Run a recurrent layer (stack) over a batch of sequences.

    Args:
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        x: (N, T, D) input, batch first on every backend.
        w: canonical weights (:mod:`rnnkit.weights`); layers and directions are read off its keys.
        backend: ``"numpy"``, ``"torch"`` or ``"keras"``.
        h0: initial state, zeros if omitted; (N, H) for one layer and direction, else
            (layers*directions, N, H). For an LSTM a pair ``(h0, c0)``.
        lengths: optional (N,) ints in [1, T]; steps past a sequence's length are padding:
            their outputs are zero and the final state is the one at the last valid step.
        nonlinearity: ``"tanh"`` or ``"relu"`` (``cell="rnn"`` only).

    Returns:
        ``(out, state)`` as numpy arrays: out (N, T, H*directions) from the last layer;
        state h_T in the same form as ``h0``, or ``(h_T, c_T)`` for an LSTM.

    Example:
        >>> import numpy as np, rnnkit
        >>> w = rnnkit.init_weights("lstm", input_size=3, hidden_size=5, seed=0)
        >>> out, (h, c) = rnnkit.forward("lstm", np.zeros((2, 7, 3), np.float32), w)
        >>> out.shape, h.shape, c.shape
        ((2, 7, 5), (2, 5), (2, 5))
    """
    spec, x, w, state0, lengths = _prepare(cell, x, w, h0, lengths, nonlinearity)
    out, state = _backend(backend).forward(spec, x, w, state0, lengths, nonlinearity)
    out = np.asarray(out)
    if cell == "lstm":
        return out, tuple(_unstack_state(spec, np.asarray(s)) for s in state)
    return out, _unstack_state(spec, np.asarray(state))


def gradients(cell: str, x, w: dict, dout, backend: str = "numpy", h0=None, lengths=None,
              nonlinearity: str = "tanh", truncate: int | None = None) -> dict:
    """Gradients of ``sum(out * dout)`` with respect to every weight and the input.

    Arguments as in :func:`forward`; ``dout`` is the upstream gradient of ``out``, shape
    (N, T, H*directions). ``truncate=k`` gives chunked truncated BPTT (the gradient through
    the recurrent state is cut every k steps; numpy backend only: the frameworks express it
    by detaching the state in the training loop instead).

    Returns:
        dict with the keys of ``w`` plus ``"x"`` (and ``"h0"``, plus ``"c0"`` for an LSTM, when
        ``h0`` is given), numpy arrays shaped like what they differentiate.

    Example:
        >>> import numpy as np, rnnkit
        >>> w = rnnkit.init_weights("rnn", input_size=2, hidden_size=3, seed=0)
        >>> g = rnnkit.gradients("rnn", np.ones((1, 4, 2), np.float32), w, np.ones((1, 4, 3), np.float32))
        >>> g["W_hh_l0"].shape, g["x"].shape
        ((3, 3), (1, 4, 2))
    """
    spec, x, w, state0, lengths = _prepare(cell, x, w, h0, lengths, nonlinearity)
    want = (x.shape[0], x.shape[1], spec.hidden_size * spec.directions)
    dout = np.asarray(dout, x.dtype)
    if dout.shape != want:
        raise ValueError(f"dout must have the shape of out, (N, T, H*directions) = {want}; "
                         f"received {dout.shape}")
    if truncate is None:
        grads = _backend(backend).gradients(spec, x, w, dout, state0, lengths, nonlinearity)
    elif backend != "numpy":
        raise ValueError(f"truncate is implemented by backend='numpy' only; received "
                         f"backend={backend!r}")
    elif int(truncate) != truncate or truncate < 1:
        raise ValueError(f"truncate must be a positive integer; received {truncate!r}")
    else:
        grads = _backend("numpy").gradients(spec, x, w, dout, state0, lengths, nonlinearity,
                                            truncate=int(truncate))
    grads = {k: np.asarray(v) for k, v in grads.items()}
    if h0 is None:
        grads.pop("h0", None)
        grads.pop("c0", None)
    else:
        for k in ("h0", "c0"):
            if k in grads:
                grads[k] = _unstack_state(spec, grads[k])
    return grads
