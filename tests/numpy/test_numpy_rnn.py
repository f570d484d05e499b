"""Vanilla RNN cell (rnnkit.numpy.rnn): gradient checks against finite differences."""
import numpy as np
import pytest

from rnnkit.checks import assert_close, rel_error
from rnnkit.numpy import rnn
from rnnkit.numpy.gradcheck import numerical_gradient

BOUND = 1e-7  # float64, central differences with h = 1e-5: errors are around 1e-10


def assert_grad(name, analytic, numeric):
    err = rel_error(analytic, numeric)
    print(f"{name}  rel error {err:.1e}  (bound {BOUND:.0e})")
    assert err < BOUND, f"{name}: relative error {err:.1e} exceeds the bound {BOUND:.0e}"


def weights(rng, D, H):
    """W_ih, W_hh, b_ih, b_hh, float64."""
    return [rng.normal(size=s) for s in [(H, D), (H, H), (H,), (H,)]]


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("N, D, H", [(3, 4, 5), (1, 1, 1)])
def test_step_backward_matches_finite_differences(nonlinearity, N, D, H):
    """step_backward returns the gradient of sum(h * dh) for every argument of step_forward."""
    rng = np.random.default_rng(0)
    args = [rng.normal(size=(N, D)), rng.normal(size=(N, H))] + weights(rng, D, H)
    dh = rng.normal(size=(N, H))
    h, cache = rnn.step_forward(*args, nonlinearity)
    grads = rnn.step_backward(dh, cache)

    def loss(_):
        return np.sum(rnn.step_forward(*args, nonlinearity)[0] * dh)

    for name, arg, grad in zip(grads._fields, args, grads):
        assert_grad(name, grad, numerical_gradient(loss, arg))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("N, T, D, H, lengths", [(3, 5, 2, 4, None), (3, 5, 2, 4, [5, 1, 3]),
                                                 (1, 1, 1, 1, None)])
def test_sequence_backward_matches_finite_differences(nonlinearity, N, T, D, H, lengths):
    """backward returns the gradient of sum(hs * dhs) + sum(h_T * dh_T), also with lengths."""
    rng = np.random.default_rng(1)
    args = [rng.normal(size=(N, T, D)), rng.normal(size=(N, H))] + weights(rng, D, H)
    lengths = None if lengths is None else np.array(lengths)
    dhs, dh_T = rng.normal(size=(N, T, H)), rng.normal(size=(N, H))
    hs, h_T, cache = rnn.forward(*args, nonlinearity, lengths)
    grads = rnn.backward(dhs, cache, dh_T)

    def loss(_):
        hs, h_T, _ = rnn.forward(*args, nonlinearity, lengths)
        return np.sum(hs * dhs) + np.sum(h_T * dh_T)

    for name, arg, grad in zip(grads._fields, args, grads):
        assert_grad(name, grad, numerical_gradient(loss, arg))


def test_sequence_forward_is_a_loop_over_step_forward():
    """forward's outputs and final state are step_forward applied at t = 0..T-1."""
    rng = np.random.default_rng(2)
    N, T, D, H = 2, 6, 3, 4
    x, h = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    w = weights(rng, D, H)
    hs, h_T, _ = rnn.forward(x, h, *w)
    for t in range(T):
        h, _ = rnn.step_forward(x[:, t], h, *w)
        assert_close(hs[:, t], h, 1e-12, f"hs[:, {t}]")
    assert_close(h_T, h, 1e-12, "h_T")


def test_float32_stays_float32():
    """No silent float64 upcast: float32 inputs give float32 outputs and gradients."""
    rng = np.random.default_rng(3)
    shapes = [(2, 3, 2), (2, 4), (4, 2), (4, 4), (4,), (4,)]
    args = [rng.normal(size=s).astype(np.float32) for s in shapes]
    hs, h_T, cache = rnn.forward(*args)
    grads = rnn.backward(np.ones_like(hs), cache)
    assert {a.dtype for a in (hs, h_T, *grads)} == {np.dtype(np.float32)}
