"""GRU cell (rnnkit.numpy.gru): gradient checks against finite differences."""
import numpy as np
import pytest

from rnnkit.checks import assert_close, rel_error
from rnnkit.numpy import gru
from rnnkit.numpy.gradcheck import numerical_gradient

BOUND = 1e-7  # float64, central differences with h = 1e-5: errors are around 1e-10


def assert_grad(name, analytic, numeric):
    err = rel_error(analytic, numeric)
    print(f"{name}  rel error {err:.1e}  (bound {BOUND:.0e})")
    assert err < BOUND, f"{name}: relative error {err:.1e} exceeds the bound {BOUND:.0e}"


def weights(rng, D, H):
    """W_ih, W_hh, b_ih, b_hh, float64, rows r|z|n."""
    return [rng.normal(size=s) for s in [(3 * H, D), (3 * H, H), (3 * H,), (3 * H,)]]


@pytest.mark.parametrize("N, D, H", [(3, 4, 5), (1, 1, 1)])
def test_step_backward_matches_finite_differences(N, D, H):
    """step_backward returns the gradient of sum(h * dh) for every argument of step_forward."""
    rng = np.random.default_rng(0)
    args = [rng.normal(size=(N, D)), rng.normal(size=(N, H))] + weights(rng, D, H)
    dh = rng.normal(size=(N, H))
    h, cache = gru.step_forward(*args)
    grads = gru.step_backward(dh, cache)

    def loss(_):
        return np.sum(gru.step_forward(*args)[0] * dh)

    for name, arg, grad in zip(grads._fields, args, grads):
        assert_grad(name, grad, numerical_gradient(loss, arg))


@pytest.mark.parametrize("N, T, D, H, lengths", [(3, 5, 2, 4, None), (3, 5, 2, 4, [5, 1, 3]),
                                                 (1, 1, 1, 1, None)])
def test_sequence_backward_matches_finite_differences(N, T, D, H, lengths):
    """backward returns the gradient of sum(hs * dhs) + sum(h_T * dh_T), also with lengths."""
    rng = np.random.default_rng(1)
    args = [rng.normal(size=(N, T, D)), rng.normal(size=(N, H))] + weights(rng, D, H)
    lengths = None if lengths is None else np.array(lengths)
    dhs, dh_T = rng.normal(size=(N, T, H)), rng.normal(size=(N, H))
    hs, h_T, cache = gru.forward(*args, lengths)
    grads = gru.backward(dhs, cache, dh_T)

    def loss(_):
        hs, h_T, _ = gru.forward(*args, lengths)
        return np.sum(hs * dhs) + np.sum(h_T * dh_T)

    for name, arg, grad in zip(grads._fields, args, grads):
        assert_grad(name, grad, numerical_gradient(loss, arg))


def test_sequence_forward_is_a_loop_over_step_forward():
    """forward's outputs and final state are step_forward applied at t = 0..T-1."""
    rng = np.random.default_rng(2)
    N, T, D, H = 2, 6, 3, 4
    x, h = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    w = weights(rng, D, H)
    hs, h_T, _ = gru.forward(x, h, *w)
    for t in range(T):
        h, _ = gru.step_forward(x[:, t], h, *w)
        assert_close(hs[:, t], h, 1e-12, f"hs[:, {t}]")
    assert_close(h_T, h, 1e-12, "h_T")


def test_reset_gate_multiplies_the_recurrent_term_after_the_matmul():
    """n = tanh(W_in x + b_in + r * (W_hn h' + b_hn)), PyTorch's form, written out by hand."""
    rng = np.random.default_rng(3)
    N, D, H = 2, 3, 4
    x, h_prev = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    W_ih, W_hh, b_ih, b_hh = weights(rng, D, H)
    s = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    block = lambda a, k: a[..., k * H:(k + 1) * H]  # noqa: E731
    ax, ah = x @ W_ih.T + b_ih, h_prev @ W_hh.T + b_hh
    r, z = s(block(ax, 0) + block(ah, 0)), s(block(ax, 1) + block(ah, 1))
    n = np.tanh(block(ax, 2) + r * block(ah, 2))
    h, _ = gru.step_forward(x, h_prev, W_ih, W_hh, b_ih, b_hh)
    assert_close(h, (1 - z) * n + z * h_prev, 1e-14, "h")


def test_float32_stays_float32():
    """No silent float64 upcast: float32 inputs give float32 outputs and gradients."""
    rng = np.random.default_rng(4)
    shapes = [(2, 3, 2), (2, 4), (12, 2), (12, 4), (12,), (12,)]
    hs, h_T, cache = gru.forward(*[rng.normal(size=s).astype(np.float32) for s in shapes])
    grads = gru.backward(np.ones_like(hs), cache)
    assert {a.dtype for a in (hs, h_T, *grads)} == {np.dtype(np.float32)}
