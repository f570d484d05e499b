"""Stacked and bidirectional layers over the cells: the NumPy side of :mod:`rnnkit.api`.

Layer ``l`` reads the (N, T, D_l) output of layer ``l-1`` (the input x for l = 0) and runs
one cell per direction over it; a bidirectional layer's output is the concatenation
``[forward, reverse]`` along the last axis, (N, T, 2H), as in PyTorch. The reverse direction
reads each sequence from its last valid step back to step 0 (PyTorch's packed sequences):
it runs the same left-to-right cell over each sequence flipped *within its length*, then
flips the outputs back, so padding stays at the end and its outputs stay zero.

States are stacked ``(L*dirs, N, H)`` in PyTorch's ``h_n`` order, layer-major, forward
before reverse (index ``k = layer * dirs + direction``); an LSTM's state is a pair
``(h, c)`` of such arrays. Shapes: N batch, T time, D input features, H hidden units.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..weights import RNNSpec
from . import gru, lstm, rnn

CELLS = {"rnn": rnn, "lstm": lstm, "gru": gru}
NAMES = ("W_ih", "W_hh", "b_ih", "b_hh")


class LayersCache(NamedTuple):
    """What :func:`backward` needs from :func:`forward_with_cache`."""

    spec: RNNSpec
    caches: list          # one cell cache per (layer, direction), index k = layer*dirs + dir
    lengths: np.ndarray | None


def _flip(a, lengths):
    """Reverse each (N, T, F) sequence within its length; padding stays at the end.

    Flipping twice gives back ``a``, so the same call maps the reverse direction's inputs
    in and its outputs (and gradients) back out.
    """
    if lengths is None:
        return a[:, ::-1]
    t = np.arange(a.shape[1])                                         # (T,)
    idx = np.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (N, T) source step
    return np.take_along_axis(a, idx[:, :, None], axis=1)


def _suffix(layer, direction):
    """Weight-name suffix: ``_l0``, ``_l0_reverse``, ``_l1``, ... (:mod:`rnnkit.weights`)."""
    return f"_l{layer}" + ("_reverse" if direction else "")


def _as_tuple(cell, state):
    """The backend contract's state (an array, or a pair for an LSTM) as a tuple."""
    return tuple(state) if cell == "lstm" else (state,)


def _from_tuple(cell, states):
    return tuple(states) if cell == "lstm" else states[0]


def forward_with_cache(spec: RNNSpec, x, w, state0, lengths=None, nonlinearity="tanh"):
    """Run every layer and direction, keeping what :func:`backward` needs.

    Args:
        spec: the stack's :class:`~rnnkit.weights.RNNSpec`.
        x: (N, T, D) input, batch first.
        w: canonical weight dict (:mod:`rnnkit.weights`).
        state0: (L*dirs, N, H) initial states; for an LSTM a pair ``(h0, c0)``.
        lengths: optional (N,) ints in [1, T].
        nonlinearity: ``"tanh"`` or ``"relu"``, for ``spec.cell == "rnn"``.

    Returns:
        ``(out, state, cache)``: out (N, T, H*dirs) from the last layer, final states shaped
        like ``state0``, and a :class:`LayersCache`.

    Example:
        >>> from rnnkit import init_weights, spec_from_weights
        >>> w = init_weights("gru", input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
        >>> spec = spec_from_weights("gru", w)
        >>> out, h, cache = forward_with_cache(spec, np.ones((2, 5, 3), np.float32), w,
        ...                                    np.zeros((4, 2, 4), np.float32))
        >>> out.shape, h.shape
        ((2, 5, 8), (4, 2, 4))
    """
    lengths = None if lengths is None else np.asarray(lengths)
    cell = CELLS[spec.cell]
    options = {"nonlinearity": nonlinearity} if spec.cell == "rnn" else {}
    state0 = _as_tuple(spec.cell, state0)
    state = tuple(np.empty_like(s) for s in state0)        # (L*dirs, N, H) each
    caches, inp = [], x                                     # inp: (N, T, D_l)
    for layer in range(spec.num_layers):
        outs = []
        for direction in range(spec.directions):
            k, sfx = layer * spec.directions + direction, _suffix(layer, direction)
            x_dir = _flip(inp, lengths) if direction else inp
            hs, *final, cache = cell.forward(x_dir, *(s[k] for s in state0),
                                             *(w[name + sfx] for name in NAMES),
                                             lengths=lengths, **options)
            outs.append(_flip(hs, lengths) if direction else hs)  # (N, T, H)
            for s, s_k in zip(state, final):
                s[k] = s_k
            caches.append(cache)
        inp = outs[0] if len(outs) == 1 else np.concatenate(outs, axis=2)  # (N, T, H*dirs)
    return inp, _from_tuple(spec.cell, state), LayersCache(spec, caches, lengths)


def backward(dout, cache: LayersCache, dstate=None, truncate=None) -> dict:
    """Backward of :func:`forward_with_cache`, from the last layer down.

    Args:
        dout: (N, T, H*dirs) gradient of the loss with respect to ``out``.
        cache: the :class:`LayersCache` from :func:`forward_with_cache`.
        dstate: optional gradient with respect to the final states, shaped like ``state``.
        truncate: optional k for chunked truncated BPTT. The forward pass ran over the
            whole sequence; going back, the gradient carried through the recurrent state
            (h, and c for an LSTM) is zeroed at each chunk start, steps t = k, 2k, ... in
            the order a direction processes them (for the reverse direction, counted from
            each sequence's last valid step). Gradients between layers are not cut.

    Returns:
        dict: a gradient for every weight key, ``"x"`` (N, T, D), and ``"h0"`` (and ``"c0"``
        for an LSTM), (L*dirs, N, H).

    Example:
        >>> from rnnkit import init_weights, spec_from_weights
        >>> w = init_weights("lstm", input_size=3, hidden_size=4, bidirectional=True)
        >>> s0 = np.zeros((2, 2, 4), np.float32)
        >>> out, state, cache = forward_with_cache(spec_from_weights("lstm", w),
        ...                                        np.ones((2, 5, 3), np.float32), w, (s0, s0))
        >>> grads = backward(np.ones_like(out), cache, truncate=2)
        >>> out.shape, grads["W_hh_l0_reverse"].shape, grads["c0"].shape
        ((2, 5, 8), (16, 4), (2, 2, 4))
    """
    spec, caches, lengths = cache
    cell, H, dirs = CELLS[spec.cell], spec.hidden_size, spec.directions
    dfinal = None if dstate is None else _as_tuple(spec.cell, dstate)
    n_states = 2 if spec.cell == "lstm" else 1
    dstate0 = [None] * n_states
    grads, d_inp = {}, dout                                 # d_inp: (N, T, H*dirs)
    for layer in reversed(range(spec.num_layers)):
        dx = None
        for direction in range(dirs):
            k, sfx = layer * dirs + direction, _suffix(layer, direction)
            dhs = d_inp[:, :, direction * H:(direction + 1) * H]  # (N, T, H) this direction
            dhs = _flip(dhs, lengths) if direction else dhs
            d_T = () if dfinal is None else tuple(s[k] for s in dfinal)
            g = cell.backward(dhs, caches[k], *d_T, truncate=truncate)
            dx_dir = _flip(g.dx, lengths) if direction else g.dx  # (N, T, D_l)
            dx = dx_dir if dx is None else dx + dx_dir      # both directions read the input
            for j, ds in enumerate(g[1:1 + n_states]):      # dh0 (and dc0)
                if dstate0[j] is None:
                    dstate0[j] = np.empty((spec.num_layers * dirs,) + ds.shape, ds.dtype)
                dstate0[j][k] = ds
            grads.update({name + sfx: dw for name, dw in zip(NAMES, g[-4:])})
        d_inp = dx
    grads["x"] = np.ascontiguousarray(d_inp)
    grads.update(zip(("h0", "c0"), dstate0))
    return grads


def forward(spec: RNNSpec, x, w, state0, lengths=None, nonlinearity="tanh"):
    """The backend contract's forward: :func:`forward_with_cache` without the cache.

    Example:
        >>> from rnnkit import init_weights, spec_from_weights
        >>> w = init_weights("lstm", input_size=3, hidden_size=4)
        >>> s0 = np.zeros((1, 2, 4), np.float32)
        >>> out, (h, c) = forward(spec_from_weights("lstm", w), np.ones((2, 5, 3), np.float32),
        ...                       w, (s0, s0))
        >>> out.shape, h.shape
        ((2, 5, 4), (1, 2, 4))
    """
    out, state, _ = forward_with_cache(spec, x, w, state0, lengths, nonlinearity)
    return out, state


def gradients(spec: RNNSpec, x, w, dout, state0, lengths=None, nonlinearity="tanh",
              truncate=None) -> dict:
    """The backend contract's gradients of ``sum(out * dout)``, plus truncated BPTT.

    Args:
        truncate: optional k: chunked truncated BPTT (see :func:`backward`); ``None`` or
            any k >= T gives full backpropagation through time.

    Returns:
        dict: see :func:`backward`.

    Example:
        >>> from rnnkit import init_weights, spec_from_weights
        >>> w = init_weights("rnn", input_size=3, hidden_size=4)
        >>> g = gradients(spec_from_weights("rnn", w), np.ones((2, 5, 3), np.float32), w,
        ...               np.ones((2, 5, 4), np.float32), np.zeros((1, 2, 4), np.float32),
        ...               truncate=2)
        >>> g["W_hh_l0"].shape, g["x"].shape, g["h0"].shape
        ((4, 4), (2, 5, 3), (1, 2, 4))
    """
    _, _, cache = forward_with_cache(spec, x, w, state0, lengths, nonlinearity)
    return backward(dout, cache, truncate=truncate)
