"""LSTM cell (rnnkit.numpy.lstm): gradient checks against finite differences."""
import numpy as np
import pytest

from rnnkit.checks import assert_close, rel_error
from rnnkit.numpy import lstm
from rnnkit.numpy.gradcheck import numerical_gradient

BOUND = 1e-7  # float64, central differences with h = 1e-5: errors are around 1e-10


def assert_grad(name, analytic, numeric):
    err = rel_error(analytic, numeric)
    print(f"{name}  rel error {err:.1e}  (bound {BOUND:.0e})")
    assert err < BOUND, f"{name}: relative error {err:.1e} exceeds the bound {BOUND:.0e}"


def weights(rng, D, H):
    """W_ih, W_hh, b_ih, b_hh, float64, rows i|f|g|o."""
    return [rng.normal(size=s) for s in [(4 * H, D), (4 * H, H), (4 * H,), (4 * H,)]]


@pytest.mark.parametrize("N, D, H", [(3, 4, 5), (1, 1, 1)])
def test_step_backward_matches_finite_differences(N, D, H):
    """step_backward returns the gradient of sum(h * dh) + sum(c * dc) for every argument."""
    rng = np.random.default_rng(0)
    args = [rng.normal(size=(N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))]
    args += weights(rng, D, H)
    dh, dc = rng.normal(size=(N, H)), rng.normal(size=(N, H))
    h, c, cache = lstm.step_forward(*args)
    grads = lstm.step_backward(dh, dc, cache)

    def loss(_):
        h, c, _ = lstm.step_forward(*args)
        return np.sum(h * dh) + np.sum(c * dc)

    for name, arg, grad in zip(grads._fields, args, grads):
        assert_grad(name, grad, numerical_gradient(loss, arg))


@pytest.mark.parametrize("N, T, D, H, lengths", [(3, 5, 2, 4, None), (3, 5, 2, 4, [5, 1, 3]),
                                                 (1, 1, 1, 1, None)])
def test_sequence_backward_matches_finite_differences(N, T, D, H, lengths):
    """backward returns the gradient of sum(hs * dhs) + sum(h_T * dh_T) + sum(c_T * dc_T)."""
    rng = np.random.default_rng(1)
    args = [rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))]
    args += weights(rng, D, H)
    lengths = None if lengths is None else np.array(lengths)
    dhs, dh_T, dc_T = rng.normal(size=(N, T, H)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    hs, h_T, c_T, cache = lstm.forward(*args, lengths)
    grads = lstm.backward(dhs, cache, dh_T, dc_T)

    def loss(_):
        hs, h_T, c_T, _ = lstm.forward(*args, lengths)
        return np.sum(hs * dhs) + np.sum(h_T * dh_T) + np.sum(c_T * dc_T)

    for name, arg, grad in zip(grads._fields, args, grads):
        assert_grad(name, grad, numerical_gradient(loss, arg))


def test_sequence_forward_is_a_loop_over_step_forward():
    """forward's outputs and final state are step_forward applied at t = 0..T-1."""
    rng = np.random.default_rng(2)
    N, T, D, H = 2, 6, 3, 4
    x, h, c = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    w = weights(rng, D, H)
    hs, h_T, c_T, _ = lstm.forward(x, h, c, *w)
    for t in range(T):
        h, c, _ = lstm.step_forward(x[:, t], h, c, *w)
        assert_close(hs[:, t], h, 1e-12, f"hs[:, {t}]")
    assert_close(h_T, h, 1e-12, "h_T")
    assert_close(c_T, c, 1e-12, "c_T")


def test_sigmoid_is_the_logistic_function_without_overflow_errors():
    """sigmoid(x) = 1 / (1 + exp(-x)), and gives exactly 0 and 1 at -+1000 without raising."""
    x = np.linspace(-30, 30, 61)
    assert_close(lstm.sigmoid(x), 1 / (1 + np.exp(-x)), 1e-15, "sigmoid")
    with np.errstate(all="raise"):
        assert lstm.sigmoid(np.array([-1000.0, 1000.0])).tolist() == [0.0, 1.0]


def test_float32_stays_float32():
    """No silent float64 upcast: float32 inputs give float32 outputs and gradients."""
    rng = np.random.default_rng(3)
    shapes = [(2, 3, 2), (2, 4), (2, 4), (16, 2), (16, 4), (16,), (16,)]
    hs, h_T, c_T, cache = lstm.forward(*[rng.normal(size=s).astype(np.float32) for s in shapes])
    grads = lstm.backward(np.ones_like(hs), cache)
    assert {a.dtype for a in (hs, h_T, c_T, *grads)} == {np.dtype(np.float32)}
