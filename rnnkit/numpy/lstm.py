r"""LSTM cell from scratch: one step, and one layer over a sequence.

Equations (PyTorch's ``torch.nn.LSTM``; weight rows stacked i | f | g | o), for one step::

    a = x W_ih^T + b_ih + h' W_hh^T + b_hh      (N, 4H)  pre-activations, i|f|g|o blocks
    i = sigma(a_i)   f = sigma(a_f)   g = tanh(a_g)   o = sigma(a_o)     (N, H) each
    c = f * c' + i * g                           (N, H)
    h = o * tanh(c)                              (N, H)

with ``h'``, ``c'`` the previous state and ``*`` the element-wise product. Shapes: N batch,
T time, D input features, H hidden units; sequences are batch first, ``(N, T, D)``.

As in ``rnn.py``, the sequence pair loops over the step's core :func:`_cell_core` and moves
everything that does not depend on the previous state out of the loop: the input part of
the pre-activations before it, the gradients of W_ih, W_hh, the biases and x after it.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .rnn import cut, output_grads, outputs, padding, project, project_backward, time_major


def sigmoid(x, out=None):
    r"""Logistic sigmoid :math:`\sigma(x) = 1 / (1 + e^{-x})`, element-wise.

    For x below about -88 (float32) ``exp(-x)`` overflows to inf and the result is the
    correct limit 0, so the overflow warning is silenced. (NumPy's float32 ``exp`` costs
    about half its ``tanh``, so this beats the overflow-free ``(1 + tanh(x/2)) / 2``.)
    """
    # Not np.negative(x, out=out): NumPy 2.4 computes it wrongly in place on strided float32
    # views (such as one gate's columns when H = 1); multiply is correct there.
    out = np.multiply(x, -1, out=out)
    with np.errstate(over="ignore", under="ignore"):
        np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


class StepCache(NamedTuple):
    """What :func:`step_backward` needs from :func:`step_forward`."""

    x: np.ndarray         # (N, D) input
    h_prev: np.ndarray    # (N, H) previous hidden state h'
    c_prev: np.ndarray    # (N, H) previous cell state c'
    gates: np.ndarray     # (N, 4H) i|f|g|o, after their nonlinearities
    tanh_c: np.ndarray    # (N, H) tanh(c)
    W_ih: np.ndarray      # (4H, D)
    W_hh: np.ndarray      # (4H, H)


class StepGrads(NamedTuple):
    dx: np.ndarray        # (N, D)
    dh_prev: np.ndarray   # (N, H)
    dc_prev: np.ndarray   # (N, H)
    dW_ih: np.ndarray     # (4H, D)
    dW_hh: np.ndarray     # (4H, H)
    db_ih: np.ndarray     # (4H,)
    db_hh: np.ndarray     # (4H,)


def _cell_core(a, h_prev, c_prev, W_hh, h, c, tanh_c):
    """The recurrent part of one step, shared by :func:`step_forward` and :func:`forward`.

    ``a`` (N, 4H) holds the input part ``x W_ih^T + b_ih + b_hh`` and is overwritten with the
    gates i|f|g|o; the new state goes into the preallocated (N, H) arrays h, c and tanh_c.
    """
    H = h.shape[1]
    a += h_prev @ W_hh.T                    # (N, 4H) pre-activations
    i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]  # (N, H) views
    sigmoid(a[:, :2 * H], out=a[:, :2 * H])  # i, f = sigma(.), adjacent: one call
    np.tanh(g, out=g)                       # g = tanh(.)
    sigmoid(o, out=o)                       # o = sigma(.)
    np.multiply(f, c_prev, out=c)           # c = f * c' ...
    c += i * g                              #      ... + i * g
    np.tanh(c, out=tanh_c)
    np.multiply(o, tanh_c, out=h)           # h = o * tanh(c)


def _cell_core_backward(dh, dc_next, a, c_prev, tanh_c, W_hh, da):
    """Backward of :func:`_cell_core`: fills ``da`` (N, 4H), returns ``(dh_prev, dc_prev)``.

    ``dh`` is the full gradient of h; ``dc_next`` the gradient of c from the next step only.
    """
    H = dh.shape[1]
    i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
    di, df, dg, do = da[:, :H], da[:, H:2 * H], da[:, 2 * H:3 * H], da[:, 3 * H:]
    np.multiply(dh, tanh_c, out=do)         # (N, H) through h = o * tanh(c), to o
    dc = dc_next + dh * o * (1 - tanh_c * tanh_c)  # (N, H) ... and to c, plus c's own path
    np.multiply(dc, g, out=di)              # (N, H) through c = f * c' + i * g, to i
    np.multiply(dc, c_prev, out=df)         # (N, H) to f
    np.multiply(dc, i, out=dg)              # (N, H) to g
    dc_prev = dc * f                        # (N, H) to c'
    do *= o * (1 - o)                       # through o = sigma(a_o): sigma' = o (1 - o)
    dg *= 1 - g * g                         # through g = tanh(a_g): tanh' = 1 - g^2
    if_ = a[:, :2 * H]                      # (N, 2H) i|f together: one call for both
    da[:, :2 * H] *= if_ * (1 - if_)        # through i, f = sigma(.)
    dh_prev = da @ W_hh                     # (N, H) through a = ... + h' W_hh^T
    return dh_prev, dc_prev


def step_forward(x, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    """One LSTM step (equations in the module docstring).

    Args:
        x: (N, D) input at this step.
        h_prev, c_prev: (N, H) previous hidden and cell state.
        W_ih: (4H, D); W_hh: (4H, H); b_ih, b_hh: (4H,); rows i|f|g|o.

    Returns:
        ``(h, c, cache)``: the new state, (N, H) each, and a :class:`StepCache`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> N, D, H = 2, 3, 4
        >>> h, c, cache = step_forward(rng.normal(size=(N, D)), np.zeros((N, H)), np.zeros((N, H)),
        ...                            rng.normal(size=(4 * H, D)), rng.normal(size=(4 * H, H)),
        ...                            np.zeros(4 * H), np.zeros(4 * H))
        >>> h.shape, c.shape, cache.gates.shape
        ((2, 4), (2, 4), (2, 16))
    """
    a = x @ W_ih.T + b_ih + b_hh                            # (N, 4H) input part
    h, c, tanh_c = (np.empty_like(h_prev) for _ in range(3))
    _cell_core(a, h_prev, c_prev, W_hh, h, c, tanh_c)
    return h, c, StepCache(x, h_prev, c_prev, a, tanh_c, W_ih, W_hh)


def step_backward(dh_next, dc_next, cache: StepCache) -> StepGrads:
    """Backward of :func:`step_forward`, in reverse order of its lines.

    Args:
        dh_next, dc_next: (N, H) gradients of the loss with respect to the new h and c.
        cache: the :class:`StepCache` from :func:`step_forward`.

    Returns:
        :class:`StepGrads` ``(dx, dh_prev, dc_prev, dW_ih, dW_hh, db_ih, db_hh)``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x, s = rng.normal(size=(2, 3)), np.zeros((2, 4))
        >>> W_ih, W_hh, b = rng.normal(size=(16, 3)), rng.normal(size=(16, 4)), np.zeros(16)
        >>> h, c, cache = step_forward(x, s, s, W_ih, W_hh, b, b)
        >>> step_backward(np.ones_like(h), np.zeros_like(c), cache).dW_ih.shape
        (16, 3)
    """
    x, h_prev, c_prev, gates, tanh_c, W_ih, W_hh = cache
    da = np.empty_like(gates)                               # (N, 4H)
    dh_prev, dc_prev = _cell_core_backward(dh_next, dc_next, gates, c_prev, tanh_c, W_hh, da)
    dW_hh = da.T @ h_prev                   # (4H, H) through a = ... + h' W_hh^T + b_hh
    db_hh = da.sum(axis=0)                  # (4H,)
    dx = da @ W_ih                          # (N, D) through a = x W_ih^T + b_ih + ...
    dW_ih = da.T @ x                        # (4H, D)
    db_ih = da.sum(axis=0)                  # (4H,)
    return StepGrads(dx, dh_prev, dc_prev, dW_ih, dW_hh, db_ih, db_hh)


class Cache(NamedTuple):
    """What :func:`backward` needs from :func:`forward`; arrays are time major."""

    x: np.ndarray         # (T, N, D)
    hs: np.ndarray        # (T+1, N, H) hidden states; hs[0] = h0, carried over padding
    cs: np.ndarray        # (T+1, N, H) cell states; cs[0] = c0
    gates: np.ndarray     # (T, N, 4H) i|f|g|o of every step
    tanh_cs: np.ndarray   # (T, N, H)
    W_ih: np.ndarray      # (4H, D)
    W_hh: np.ndarray      # (4H, H)
    pad: np.ndarray | None  # (T, N, 1) True at padded steps


class Grads(NamedTuple):
    dx: np.ndarray        # (N, T, D)
    dh0: np.ndarray       # (N, H)
    dc0: np.ndarray       # (N, H)
    dW_ih: np.ndarray     # (4H, D)
    dW_hh: np.ndarray     # (4H, H)
    db_ih: np.ndarray     # (4H,)
    db_hh: np.ndarray     # (4H,)


def forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh, lengths=None):
    """Run the cell over a sequence, left to right: :func:`step_forward` for t = 0..T-1.

    Args:
        x: (N, T, D) input, batch first.
        h0, c0: (N, H) initial state.
        W_ih, W_hh, b_ih, b_hh: as in :func:`step_forward`.
        lengths: optional (N,) ints in [1, T]; at steps t >= lengths[n] the state (h, c) is
            carried unchanged and the output is 0.

    Returns:
        ``(hs, h_T, c_T, cache)``: outputs (N, T, H), final state (N, H) each (the state at
        each sequence's last valid step) and a :class:`Cache` for :func:`backward`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> N, T, D, H = 2, 5, 3, 4
        >>> s = np.zeros((N, H))
        >>> hs, h_T, c_T, cache = forward(rng.normal(size=(N, T, D)), s, s,
        ...                               rng.normal(size=(4 * H, D)), rng.normal(size=(4 * H, H)),
        ...                               np.zeros(4 * H), np.zeros(4 * H))
        >>> hs.shape, c_T.shape
        ((2, 5, 4), (2, 4))
    """
    T = x.shape[1]
    x = time_major(x)                                       # (T, N, D)
    gates = project(x, W_ih, b_ih + b_hh)                   # (T, N, 4H) input part, all steps
    hs = np.empty((T + 1,) + h0.shape, gates.dtype)         # (T+1, N, H)
    cs = np.empty_like(hs)                                  # (T+1, N, H)
    tanh_cs = np.empty_like(hs[1:])                         # (T, N, H)
    hs[0], cs[0] = h0, c0
    pad = padding(lengths, T)
    for t in range(T):
        _cell_core(gates[t], hs[t], cs[t], W_hh, hs[t + 1], cs[t + 1], tanh_cs[t])
        if pad is not None:                                 # padded rows keep their state
            np.copyto(hs[t + 1], hs[t], where=pad[t])
            np.copyto(cs[t + 1], cs[t], where=pad[t])
    cache = Cache(x, hs, cs, gates, tanh_cs, W_ih, W_hh, pad)
    return outputs(hs, pad), hs[T].copy(), cs[T].copy(), cache


def backward(dhs, cache: Cache, dh_T=None, dc_T=None, truncate=None) -> Grads:
    """Backward of :func:`forward`: :func:`step_backward` for t = T-1..0.

    Args:
        dhs: (N, T, H) gradient of the loss with respect to the outputs.
        cache: the :class:`Cache` from :func:`forward`.
        dh_T, dc_T: optional (N, H) gradients with respect to the final state.
        truncate: optional k for truncated BPTT: the gradients carried through h and c are
            set to zero before steps t = k, 2k, ... (chunks [0, k), [k, 2k), ...).

    Returns:
        :class:`Grads` ``(dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh)``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> W_ih, W_hh, b = rng.normal(size=(16, 3)), rng.normal(size=(16, 4)), np.zeros(16)
        >>> s = np.zeros((2, 4))
        >>> hs, h_T, c_T, cache = forward(rng.normal(size=(2, 5, 3)), s, s, W_ih, W_hh, b, b)
        >>> backward(np.ones_like(hs), cache).dW_hh.shape
        (16, 4)
    """
    x, hs, cs, gates, tanh_cs, W_ih, W_hh, pad = cache
    dhs = output_grads(dhs, pad)                            # (T, N, H)
    da = np.empty_like(gates)                               # (T, N, 4H) pre-activation grads
    dh = np.zeros_like(hs[0]) if dh_T is None else dh_T.copy()  # (N, H) carried gradients
    dc = np.zeros_like(cs[0]) if dc_T is None else dc_T.copy()
    for t in reversed(range(len(dhs))):
        dh += dhs[t]                                        # h_t is both output and state
        dh_prev, dc_prev = _cell_core_backward(dh, dc, gates[t], cs[t], tanh_cs[t], W_hh, da[t])
        if pad is not None:                                 # padded rows: state unchanged
            np.copyto(da[t], 0, where=pad[t])
            np.copyto(dh_prev, dh, where=pad[t])
            np.copyto(dc_prev, dc, where=pad[t])
        if cut(t, truncate):                                # TBPTT: stop at the chunk start
            dh_prev[...] = 0
            dc_prev[...] = 0
        dh, dc = dh_prev, dc_prev
    H = dh.shape[1]
    dW_hh = da.reshape(-1, 4 * H).T @ hs[:-1].reshape(-1, H)  # (4H, H) all steps' h' W_hh^T
    dx, dW_ih, db = project_backward(da, x, W_ih)           # a = x W_ih^T + b_ih + ... + b_hh
    return Grads(dx, dh, dc, dW_ih, dW_hh, db, db.copy())
