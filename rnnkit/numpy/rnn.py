r"""Vanilla (Elman) RNN cell from scratch: one step, and one layer over a sequence.

Equations (PyTorch's ``torch.nn.RNN``), for one step::

    a = x W_ih^T + b_ih + h' W_hh^T + b_hh      (N, H)   pre-activation
    h = tanh(a)    or    h = relu(a)             (N, H)

with ``h'`` the previous state. Shapes: N batch, T time, D input features, H hidden units;
sequences are batch first, ``(N, T, D)``.

The step pair (:func:`step_forward`, :func:`step_backward`) is the readable reference. The
sequence pair (:func:`forward`, :func:`backward`) loops over the same per-step core,
:func:`_cell_core`, but computes the input part ``x W_ih^T + b_ih`` of every step with one
matrix product before the loop (it does not depend on ``h'``), and the weight gradients with
one product after the backward loop. This module also holds the sequence helpers that
``lstm.py`` and ``gru.py`` share.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class StepCache(NamedTuple):
    """What :func:`step_backward` needs from :func:`step_forward`."""

    x: np.ndarray         # (N, D) input
    h_prev: np.ndarray    # (N, H) previous state h'
    h: np.ndarray         # (N, H) new state; its value gives the nonlinearity's derivative
    W_ih: np.ndarray      # (H, D)
    W_hh: np.ndarray      # (H, H)
    nonlinearity: str


class StepGrads(NamedTuple):
    dx: np.ndarray        # (N, D)
    dh_prev: np.ndarray   # (N, H)
    dW_ih: np.ndarray     # (H, D)
    dW_hh: np.ndarray     # (H, H)
    db_ih: np.ndarray     # (H,)
    db_hh: np.ndarray     # (H,)


def _cell_core(a, h_prev, W_hh, nonlinearity, h):
    """The recurrent part of one step, shared by :func:`step_forward` and :func:`forward`.

    ``a`` (N, H) holds the input part ``x W_ih^T + b_ih + b_hh``; the new state is written
    into ``h`` (N, H), a preallocated array.
    """
    np.matmul(h_prev, W_hh.T, out=h)        # (N, H) recurrent part h' W_hh^T
    h += a                                  # (N, H) pre-activation a
    if nonlinearity == "tanh":
        np.tanh(h, out=h)                   # h = tanh(a)
    elif nonlinearity == "relu":
        np.maximum(h, 0, out=h)             # h = relu(a)
    else:
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; received {nonlinearity!r}")
    return h


def _cell_core_backward(dh, h, W_hh, nonlinearity):
    """Backward of :func:`_cell_core`: returns ``(da, dh_prev)``, both (N, H)."""
    if nonlinearity == "tanh":
        da = dh * (1 - h * h)               # (N, H) through h = tanh(a): tanh' = 1 - h^2
    else:
        da = dh * (h > 0)                   # (N, H) through h = relu(a): relu' = [a > 0]
    dh_prev = da @ W_hh                     # (N, H) through a = ... + h' W_hh^T
    return da, dh_prev


def step_forward(x, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    r"""One RNN step, :math:`h = \tanh(x W_{ih}^T + b_{ih} + h' W_{hh}^T + b_{hh})`.

    Args:
        x: (N, D) input at this step.
        h_prev: (N, H) previous state h'.
        W_ih: (H, D); W_hh: (H, H); b_ih, b_hh: (H,).
        nonlinearity: ``"tanh"`` or ``"relu"``.

    Returns:
        ``(h, cache)``: the new state (N, H) and a :class:`StepCache` for :func:`step_backward`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> N, D, H = 2, 3, 4
        >>> h, cache = step_forward(rng.normal(size=(N, D)), np.zeros((N, H)),
        ...                         rng.normal(size=(H, D)), rng.normal(size=(H, H)),
        ...                         np.zeros(H), np.zeros(H))
        >>> h.shape
        (2, 4)
    """
    a = x @ W_ih.T + b_ih + b_hh                                  # (N, H) input part
    h = _cell_core(a, h_prev, W_hh, nonlinearity, np.empty_like(a))
    return h, StepCache(x, h_prev, h, W_ih, W_hh, nonlinearity)


def step_backward(dh_next, cache: StepCache) -> StepGrads:
    """Backward of :func:`step_forward`, in reverse order of its lines.

    Args:
        dh_next: (N, H) gradient of the loss with respect to the step's output h.
        cache: the :class:`StepCache` from :func:`step_forward`.

    Returns:
        :class:`StepGrads` ``(dx, dh_prev, dW_ih, dW_hh, db_ih, db_hh)``, the forward's order.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x, h_prev = rng.normal(size=(2, 3)), rng.normal(size=(2, 4))
        >>> W_ih, W_hh, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 4)), np.zeros(4)
        >>> h, cache = step_forward(x, h_prev, W_ih, W_hh, b, b)
        >>> step_backward(np.ones_like(h), cache).dW_hh.shape
        (4, 4)
    """
    x, h_prev, h, W_ih, W_hh, nonlinearity = cache
    da, dh_prev = _cell_core_backward(dh_next, h, W_hh, nonlinearity)  # (N, H) each
    dW_hh = da.T @ h_prev                   # (H, H) through a = ... + h' W_hh^T + b_hh
    db_hh = da.sum(axis=0)                  # (H,)
    dx = da @ W_ih                          # (N, D) through a = x W_ih^T + b_ih + ...
    dW_ih = da.T @ x                        # (H, D)
    db_ih = da.sum(axis=0)                  # (H,)
    return StepGrads(dx, dh_prev, dW_ih, dW_hh, db_ih, db_hh)


# ----- sequence helpers, shared with lstm.py and gru.py ----------------------------------

def time_major(x):
    """(N, T, F) batch-first array -> (T, N, F) copy, so each step is one contiguous block.

    Always a copy (never a view, even when N = 1): callers cache it or write into it.
    """
    return np.swapaxes(x, 0, 1).copy()


def padding(lengths, T):
    """(T, N, 1) bool mask, True where step t is padding (t >= lengths[n]); None if no lengths."""
    if lengths is None:
        return None
    return (np.arange(T)[:, None] >= np.asarray(lengths)[None, :])[:, :, None]


def project(x, W, b):
    """Input part ``x W^T + b`` of every step in one matrix product: (T, N, F) -> (T, N, gH)."""
    T, N, F = x.shape
    return (x.reshape(T * N, F) @ W.T + b).reshape(T, N, -1)


def project_backward(da, x, W):
    """Backward of :func:`project`: returns ``(dx, dW, db)``, dx batch first (N, T, F)."""
    T, N, F = x.shape
    da2 = da.reshape(T * N, -1)             # (T*N, gH) every step's pre-activation gradient
    dx = (da2 @ W).reshape(T, N, F)         # (T, N, F)
    return np.swapaxes(dx, 0, 1), da2.T @ x.reshape(T * N, F), da2.sum(axis=0)


def outputs(hs, pad):
    """States (T+1, N, H) -> batch-first outputs (N, T, H), zero at padded steps."""
    out = np.swapaxes(hs[1:], 0, 1).copy()  # (N, T, H)
    if pad is not None:
        out[np.swapaxes(pad[:, :, 0], 0, 1)] = 0
    return out


def output_grads(dhs, pad):
    """Batch-first (N, T, H) output gradient -> time major, zero at padded steps (outputs
    there are the constant 0, so their gradient reaches nothing)."""
    dhs = time_major(dhs)                   # (T, N, H)
    if pad is not None:
        np.copyto(dhs, 0, where=pad)
    return dhs


def cut(t, truncate):
    """True when truncated BPTT stops the carried gradient before step t (chunk start)."""
    return truncate is not None and t > 0 and t % truncate == 0


# ----- one layer, one direction, over a sequence ------------------------------------------

class Cache(NamedTuple):
    """What :func:`backward` needs from :func:`forward`; arrays are time major."""

    x: np.ndarray         # (T, N, D)
    hs: np.ndarray        # (T+1, N, H) states; hs[0] = h0, carried unchanged over padding
    W_ih: np.ndarray      # (H, D)
    W_hh: np.ndarray      # (H, H)
    pad: np.ndarray | None  # (T, N, 1) True at padded steps
    nonlinearity: str


class Grads(NamedTuple):
    dx: np.ndarray        # (N, T, D)
    dh0: np.ndarray       # (N, H)
    dW_ih: np.ndarray     # (H, D)
    dW_hh: np.ndarray     # (H, H)
    db_ih: np.ndarray     # (H,)
    db_hh: np.ndarray     # (H,)


def forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh", lengths=None):
    """Run the cell over a sequence, left to right: :func:`step_forward` for t = 0..T-1.

    Args:
        x: (N, T, D) input, batch first.
        h0: (N, H) initial state.
        W_ih, W_hh, b_ih, b_hh: as in :func:`step_forward`.
        lengths: optional (N,) ints in [1, T]; at steps t >= lengths[n] the state is carried
            unchanged and the output is 0.

    Returns:
        ``(hs, h_T, cache)``: outputs (N, T, H), final state (N, H) (the state at each
        sequence's last valid step) and a :class:`Cache` for :func:`backward`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> N, T, D, H = 2, 5, 3, 4
        >>> hs, h_T, cache = forward(rng.normal(size=(N, T, D)), np.zeros((N, H)),
        ...                          rng.normal(size=(H, D)), rng.normal(size=(H, H)),
        ...                          np.zeros(H), np.zeros(H), lengths=np.array([5, 2]))
        >>> hs.shape, h_T.shape
        ((2, 5, 4), (2, 4))
    """
    T = x.shape[1]
    x = time_major(x)                                       # (T, N, D)
    a = project(x, W_ih, b_ih + b_hh)                       # (T, N, H) input part, all steps
    hs = np.empty((T + 1,) + h0.shape, a.dtype)             # (T+1, N, H)
    hs[0] = h0
    pad = padding(lengths, T)
    for t in range(T):
        _cell_core(a[t], hs[t], W_hh, nonlinearity, hs[t + 1])
        if pad is not None:                                 # padded rows keep their state
            np.copyto(hs[t + 1], hs[t], where=pad[t])
    return outputs(hs, pad), hs[T].copy(), Cache(x, hs, W_ih, W_hh, pad, nonlinearity)


def backward(dhs, cache: Cache, dh_T=None, truncate=None) -> Grads:
    """Backward of :func:`forward`: :func:`step_backward` for t = T-1..0.

    Args:
        dhs: (N, T, H) gradient of the loss with respect to the outputs.
        cache: the :class:`Cache` from :func:`forward`.
        dh_T: optional (N, H) gradient with respect to the final state.
        truncate: optional k for truncated BPTT: the gradient carried through the state is
            set to zero before steps t = k, 2k, ... (chunks [0, k), [k, 2k), ...).

    Returns:
        :class:`Grads` ``(dx, dh0, dW_ih, dW_hh, db_ih, db_hh)``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> W_ih, W_hh, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 4)), np.zeros(4)
        >>> hs, h_T, cache = forward(rng.normal(size=(2, 5, 3)), np.zeros((2, 4)), W_ih, W_hh, b, b)
        >>> backward(np.ones_like(hs), cache).dx.shape
        (2, 5, 3)
    """
    x, hs, W_ih, W_hh, pad, nonlinearity = cache
    dhs = output_grads(dhs, pad)                            # (T, N, H)
    da = np.empty_like(dhs)                                 # (T, N, H) pre-activation grads
    dh = np.zeros_like(hs[0]) if dh_T is None else dh_T.copy()  # (N, H) carried gradient
    for t in reversed(range(len(dhs))):
        dh += dhs[t]                                        # h_t is both output and state
        da[t], dh_prev = _cell_core_backward(dh, hs[t + 1], W_hh, nonlinearity)
        if pad is not None:                                 # padded rows: h_t = h_{t-1}
            np.copyto(da[t], 0, where=pad[t])
            np.copyto(dh_prev, dh, where=pad[t])
        if cut(t, truncate):                                # TBPTT: stop at the chunk start
            dh_prev[...] = 0
        dh = dh_prev
    H = dh.shape[1]
    dW_hh = da.reshape(-1, H).T @ hs[:-1].reshape(-1, H)   # (H, H) all steps' h' W_hh^T
    dx, dW_ih, db = project_backward(da, x, W_ih)           # a = x W_ih^T + b_ih + ... + b_hh
    return Grads(dx, dh, dW_ih, dW_hh, db, db.copy())
