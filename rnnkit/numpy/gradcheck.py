r"""Finite-difference gradient checks for the hand-written backward passes.

Central differences approximate each partial derivative of a scalar function f::

    df/dx_j  ~  (f(x + h e_j) - f(x - h e_j)) / (2 h)

with error O(h^2) from the Taylor remainder plus O(eps |f| / h) from rounding; in float64
with h = 1e-5 both are around 1e-10, which is why checks run in float64 (in float32 the
rounding term alone is ~1e-2).
"""
from __future__ import annotations

import numpy as np

from ..api import forward, gradients
from ..checks import rel_error


def _sci(value, digits):
    """3.1e-10, 1e-6: scientific notation without Python's zero-padded exponent."""
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def numerical_gradient(f, x, h=1e-5):
    """Central-difference gradient of the scalar function ``f`` at the array ``x``.

    Each entry of ``x`` is nudged in place by +h and -h, ``f(x)`` evaluated, and the entry
    restored, so ``f`` may read ``x`` through its argument or through a closure.

    Args:
        f: callable taking ``x`` and returning a scalar.
        x: float array (float64 for a meaningful check), modified and then restored.
        h: step size.

    Returns:
        array shaped like ``x``: the estimated gradient.

    Example:
        >>> x = np.array([1.0, 2.0, 3.0])
        >>> numerical_gradient(lambda x: np.sum(x ** 2), x).round(6)  # d/dx sum(x^2) = 2x
        array([2., 4., 6.])
    """
    grad = np.zeros_like(x, dtype=np.float64)
    for j in np.ndindex(x.shape):
        old = x[j]
        x[j] = old + h
        f_plus = float(f(x))
        x[j] = old - h
        f_minus = float(f(x))
        x[j] = old                          # restore before the next entry
        grad[j] = (f_plus - f_minus) / (2 * h)
    return grad


def grad_check(cell, x, w, dout, h0=None, lengths=None, nonlinearity="tanh", bound=1e-6,
               h=1e-5, verbose=True) -> dict:
    """Compare ``rnnkit.gradients(backend="numpy")`` with finite differences.

    The checked loss is ``sum(out * dout)``, whose gradient with respect to ``out`` is
    ``dout``. Everything is converted to float64 first.

    Args:
        cell, x, w, h0, lengths, nonlinearity: as in :func:`rnnkit.forward`.
        dout: (N, T, H*directions) weights of the loss.
        bound: the relative error (:func:`rnnkit.checks.rel_error`) printed as acceptable.
        h: finite-difference step.
        verbose: print one line per checked array.

    Returns:
        dict: name (every weight key, ``"x"``, ``"h0"`` and ``"c0"`` when given) -> relative
        error between the analytic and the numerical gradient.

    Example:
        >>> from rnnkit import init_weights
        >>> rng = np.random.default_rng(0)
        >>> w = init_weights("rnn", input_size=2, hidden_size=3, seed=0)
        >>> errors = grad_check("rnn", rng.normal(size=(2, 4, 2)), w, rng.normal(size=(2, 4, 3)))
        W_ih_l0  rel error ...  (bound 1e-6)
        W_hh_l0  rel error ...  (bound 1e-6)
        b_ih_l0  rel error ...  (bound 1e-6)
        b_hh_l0  rel error ...  (bound 1e-6)
        x  rel error ...  (bound 1e-6)
        >>> max(errors.values()) < 1e-6
        True
    """
    x = np.array(x, np.float64)
    w = {k: np.array(v, np.float64) for k, v in w.items()}
    dout = np.asarray(dout, np.float64)
    if h0 is not None:                      # own float64 copies, nudged in place below
        h0 = (tuple(np.array(s, np.float64) for s in h0) if cell == "lstm"
              else np.array(h0, np.float64))

    def loss(_):
        out, _state = forward(cell, x, w, "numpy", h0, lengths, nonlinearity)
        return np.sum(out * dout)

    analytic = gradients(cell, x, w, dout, "numpy", h0, lengths, nonlinearity)
    inputs = dict(w, x=x)
    if h0 is not None:
        inputs.update(zip(("h0", "c0"), h0) if cell == "lstm" else [("h0", h0)])
    errors = {}
    for name, value in inputs.items():
        # the API returns a one-layer h0's gradient as (N, H) even if h0 came as (1, N, H)
        grad = np.reshape(analytic[name], value.shape)
        errors[name] = rel_error(grad, numerical_gradient(loss, value, h))
        if verbose:
            print(f"{name}  rel error {_sci(errors[name], 1)}  (bound {_sci(bound, 0)})")
    return errors
