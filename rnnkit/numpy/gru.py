r"""GRU cell from scratch: one step, and one layer over a sequence.

Equations (PyTorch's ``torch.nn.GRU``; weight rows stacked r | z | n), for one step::

    r = sigma(x W_ir^T + b_ir + h' W_hr^T + b_hr)            (N, H)  reset gate
    z = sigma(x W_iz^T + b_iz + h' W_hz^T + b_hz)            (N, H)  update gate
    n = tanh(x W_in^T + b_in + r * (h' W_hn^T + b_hn))       (N, H)  candidate
    h = (1 - z) * n + z * h'                                 (N, H)

with ``h'`` the previous state. ``r`` multiplies the recurrent term *after* the matrix
product (PyTorch's and cuDNN's form; Keras's ``reset_after=True``), so the n block's
recurrent part ``hn = h' W_hn^T + b_hn`` is kept apart from its input part. Shapes: N batch,
T time, D input features, H hidden units; sequences are batch first, ``(N, T, D)``.

Below, ``a`` is the (N, 3H) input part ``x W_ih^T + b_ih`` and ``ah`` the recurrent part
``h' W_hh^T + b_hh``; their gradients ``dax`` and ``dah`` agree on the r, z blocks and
differ on n, where ``dah_n = dax_n * r``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .lstm import sigmoid
from .rnn import cut, output_grads, outputs, padding, project, project_backward, time_major


class StepCache(NamedTuple):
    """What :func:`step_backward` needs from :func:`step_forward`."""

    x: np.ndarray         # (N, D) input
    h_prev: np.ndarray    # (N, H) previous state h'
    gates: np.ndarray     # (N, 3H) r|z|n, after their nonlinearities
    hn: np.ndarray        # (N, H) h' W_hn^T + b_hn, the term r multiplies
    W_ih: np.ndarray      # (3H, D)
    W_hh: np.ndarray      # (3H, H)


class StepGrads(NamedTuple):
    dx: np.ndarray        # (N, D)
    dh_prev: np.ndarray   # (N, H)
    dW_ih: np.ndarray     # (3H, D)
    dW_hh: np.ndarray     # (3H, H)
    db_ih: np.ndarray     # (3H,)
    db_hh: np.ndarray     # (3H,)


def _cell_core(a, h_prev, W_hh, b_hh, h, hn):
    """The recurrent part of one step, shared by :func:`step_forward` and :func:`forward`.

    ``a`` (N, 3H) holds the input part ``x W_ih^T + b_ih`` and is overwritten with the gates
    r|z|n; the new state goes into ``h`` and ``h' W_hn^T + b_hn`` into ``hn``, both (N, H).
    """
    H = h.shape[1]
    ah = h_prev @ W_hh.T + b_hh             # (N, 3H) recurrent part, r|z|n blocks
    r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]  # (N, H) views into a
    a[:, :2 * H] += ah[:, :2 * H]           # r, z pre-activations: input + recurrent
    sigmoid(a[:, :2 * H], out=a[:, :2 * H])  # r, z = sigma(.), adjacent: one call
    hn[...] = ah[:, 2 * H:]                 # h' W_hn^T + b_hn
    n += r * hn                             # n's pre-activation: x W_in^T + b_in + r * hn
    np.tanh(n, out=n)                       # n = tanh(.)
    np.subtract(h_prev, n, out=h)           # h = (1 - z) * n + z * h'
    h *= z                                  #   = n + z * (h' - n)
    h += n


def _cell_core_backward(dh, a, h_prev, hn, W_hh, dax, dah):
    """Backward of :func:`_cell_core`: fills ``dax``, ``dah`` (N, 3H), returns ``dh_prev``."""
    H = dh.shape[1]
    r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
    dr, dz, dn = dax[:, :H], dax[:, H:2 * H], dax[:, 2 * H:]  # pre-activation grads
    np.multiply(dh, h_prev - n, out=dz)     # (N, H) through h = n + z * (h' - n), to z
    dh_prev = dh * z                        # (N, H) to h' (the direct path)
    np.multiply(dh, 1 - z, out=dn)          # (N, H) to n
    dn *= 1 - n * n                         # through n = tanh(.): tanh' = 1 - n^2
    np.multiply(dn, hn, out=dr)             # through n's r * hn, to r
    np.multiply(dn, r, out=dah[:, 2 * H:])  # ... and to hn = h' W_hn^T + b_hn
    rz = a[:, :2 * H]                       # (N, 2H) r|z together: one call for both
    dax[:, :2 * H] *= rz * (1 - rz)         # through r, z = sigma(.): sigma' = s (1 - s)
    dah[:, :2 * H] = dax[:, :2 * H]         # r, z: input and recurrent parts are summed
    dh_prev += dah @ W_hh                   # (N, H) through ah = h' W_hh^T + b_hh
    return dh_prev


def step_forward(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    """One GRU step (equations in the module docstring).

    Args:
        x: (N, D) input at this step.
        h_prev: (N, H) previous state h'.
        W_ih: (3H, D); W_hh: (3H, H); b_ih, b_hh: (3H,); rows r|z|n.

    Returns:
        ``(h, cache)``: the new state (N, H) and a :class:`StepCache`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> N, D, H = 2, 3, 4
        >>> h, cache = step_forward(rng.normal(size=(N, D)), np.zeros((N, H)),
        ...                         rng.normal(size=(3 * H, D)), rng.normal(size=(3 * H, H)),
        ...                         np.zeros(3 * H), np.zeros(3 * H))
        >>> h.shape, cache.gates.shape
        ((2, 4), (2, 12))
    """
    a = x @ W_ih.T + b_ih                                   # (N, 3H) input part
    h, hn = np.empty_like(h_prev), np.empty_like(h_prev)
    _cell_core(a, h_prev, W_hh, b_hh, h, hn)
    return h, StepCache(x, h_prev, a, hn, W_ih, W_hh)


def step_backward(dh_next, cache: StepCache) -> StepGrads:
    """Backward of :func:`step_forward`, in reverse order of its lines.

    Args:
        dh_next: (N, H) gradient of the loss with respect to the new state h.
        cache: the :class:`StepCache` from :func:`step_forward`.

    Returns:
        :class:`StepGrads` ``(dx, dh_prev, dW_ih, dW_hh, db_ih, db_hh)``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x, h_prev = rng.normal(size=(2, 3)), np.zeros((2, 4))
        >>> W_ih, W_hh, b = rng.normal(size=(12, 3)), rng.normal(size=(12, 4)), np.zeros(12)
        >>> h, cache = step_forward(x, h_prev, W_ih, W_hh, b, b)
        >>> step_backward(np.ones_like(h), cache).dW_hh.shape
        (12, 4)
    """
    x, h_prev, gates, hn, W_ih, W_hh = cache
    dax, dah = np.empty_like(gates), np.empty_like(gates)   # (N, 3H) each
    dh_prev = _cell_core_backward(dh_next, gates, h_prev, hn, W_hh, dax, dah)
    dW_hh = dah.T @ h_prev                  # (3H, H) through ah = h' W_hh^T + b_hh
    db_hh = dah.sum(axis=0)                 # (3H,)
    dx = dax @ W_ih                         # (N, D) through a = x W_ih^T + b_ih
    dW_ih = dax.T @ x                       # (3H, D)
    db_ih = dax.sum(axis=0)                 # (3H,)
    return StepGrads(dx, dh_prev, dW_ih, dW_hh, db_ih, db_hh)


class Cache(NamedTuple):
    """What :func:`backward` needs from :func:`forward`; arrays are time major."""

    x: np.ndarray         # (T, N, D)
    hs: np.ndarray        # (T+1, N, H) states; hs[0] = h0, carried unchanged over padding
    gates: np.ndarray     # (T, N, 3H) r|z|n of every step
    hns: np.ndarray       # (T, N, H) h' W_hn^T + b_hn of every step
    W_ih: np.ndarray      # (3H, D)
    W_hh: np.ndarray      # (3H, H)
    pad: np.ndarray | None  # (T, N, 1) True at padded steps


class Grads(NamedTuple):
    dx: np.ndarray        # (N, T, D)
    dh0: np.ndarray       # (N, H)
    dW_ih: np.ndarray     # (3H, D)
    dW_hh: np.ndarray     # (3H, H)
    db_ih: np.ndarray     # (3H,)
    db_hh: np.ndarray     # (3H,)


def forward(x, h0, W_ih, W_hh, b_ih, b_hh, lengths=None):
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
        ...                          rng.normal(size=(3 * H, D)), rng.normal(size=(3 * H, H)),
        ...                          np.zeros(3 * H), np.zeros(3 * H))
        >>> hs.shape, h_T.shape
        ((2, 5, 4), (2, 4))
    """
    T = x.shape[1]
    x = time_major(x)                                       # (T, N, D)
    gates = project(x, W_ih, b_ih)                          # (T, N, 3H) input part, all steps
    hs = np.empty((T + 1,) + h0.shape, gates.dtype)         # (T+1, N, H)
    hns = np.empty_like(hs[1:])                             # (T, N, H)
    hs[0] = h0
    pad = padding(lengths, T)
    for t in range(T):
        _cell_core(gates[t], hs[t], W_hh, b_hh, hs[t + 1], hns[t])
        if pad is not None:                                 # padded rows keep their state
            np.copyto(hs[t + 1], hs[t], where=pad[t])
    return outputs(hs, pad), hs[T].copy(), Cache(x, hs, gates, hns, W_ih, W_hh, pad)


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
        >>> W_ih, W_hh, b = rng.normal(size=(12, 3)), rng.normal(size=(12, 4)), np.zeros(12)
        >>> hs, h_T, cache = forward(rng.normal(size=(2, 5, 3)), np.zeros((2, 4)), W_ih, W_hh, b, b)
        >>> backward(np.ones_like(hs), cache).dx.shape
        (2, 5, 3)
    """
    x, hs, gates, hns, W_ih, W_hh, pad = cache
    dhs = output_grads(dhs, pad)                            # (T, N, H)
    dax, dah = np.empty_like(gates), np.empty_like(gates)   # (T, N, 3H) each
    dh = np.zeros_like(hs[0]) if dh_T is None else dh_T.copy()  # (N, H) carried gradient
    for t in reversed(range(len(dhs))):
        dh += dhs[t]                                        # h_t is both output and state
        dh_prev = _cell_core_backward(dh, gates[t], hs[t], hns[t], W_hh, dax[t], dah[t])
        if pad is not None:                                 # padded rows: h_t = h_{t-1}
            np.copyto(dax[t], 0, where=pad[t])
            np.copyto(dah[t], 0, where=pad[t])
            np.copyto(dh_prev, dh, where=pad[t])
        if cut(t, truncate):                                # TBPTT: stop at the chunk start
            dh_prev[...] = 0
        dh = dh_prev
    H = dh.shape[1]
    dW_hh = dah.reshape(-1, 3 * H).T @ hs[:-1].reshape(-1, H)  # (3H, H) all steps' ah
    db_hh = dah.sum(axis=(0, 1))                            # (3H,)
    dx, dW_ih, db_ih = project_backward(dax, x, W_ih)       # a = x W_ih^T + b_ih
    return Grads(dx, dh, dW_ih, dW_hh, db_ih, db_hh)
