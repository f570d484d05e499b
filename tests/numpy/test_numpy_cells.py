"""The from-scratch cells (rnnkit.numpy.rnn, .lstm, .gru): gradients against finite differences.

Every property is checked once, for each cell: the RNN (tanh and relu), the LSTM and the GRU.
The cells differ in how many states they carry (the LSTM has h and c, the others only h), so
states travel as tuples here: `step_forward(x, *states, *weights)` returns `(*states, cache)`.
Cell-specific checks (the LSTM's sigmoid, the GRU's reset gate) are in test_numpy_lstm.py and
test_numpy_gru.py.
"""
import numpy as np
import pytest

from rnnkit.checks import assert_close, rel_error
from rnnkit.numpy import gru, lstm, rnn
from rnnkit.numpy.gradcheck import numerical_gradient

BOUND = 1e-7  # float64, central differences with h = 1e-5: errors are around 1e-10

# name: (module, gate blocks stacked in W_ih's rows, states carried, extra keyword arguments)
CELLS = {
    "rnn-tanh": (rnn, 1, 1, {"nonlinearity": "tanh"}),
    "rnn-relu": (rnn, 1, 1, {"nonlinearity": "relu"}),
    "lstm": (lstm, 4, 2, {}),   # rows i|f|g|o; states h, c
    "gru": (gru, 3, 1, {}),     # rows r|z|n
}


def assert_grad(name, analytic, numeric):
    err = rel_error(analytic, numeric)
    print(f"{name}  rel error {err:.1e}  (bound {BOUND:.0e})")
    assert err < BOUND, f"{name}: relative error {err:.1e} exceeds the bound {BOUND:.0e}"


def weights(cell, rng, D, H, dtype=np.float64):
    """W_ih, W_hh, b_ih, b_hh for `cell`."""
    G = CELLS[cell][1] * H
    return [rng.normal(size=s).astype(dtype) for s in [(G, D), (G, H), (G,), (G,)]]


def states(cell, rng, N, H, dtype=np.float64):
    return [rng.normal(size=(N, H)).astype(dtype) for _ in range(CELLS[cell][2])]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("N, D, H", [(3, 4, 5), (1, 1, 1)])
def test_step_backward_matches_finite_differences(cell, N, D, H):
    """step_backward returns the gradient of sum(state * d_state) for every argument."""
    module, _, _, kw = CELLS[cell]
    rng = np.random.default_rng(0)
    args = [rng.normal(size=(N, D)), *states(cell, rng, N, H), *weights(cell, rng, D, H)]
    d_states = states(cell, rng, N, H)
    *_, cache = module.step_forward(*args, **kw)
    grads = module.step_backward(*d_states, cache)

    def loss(_):
        *new, _ = module.step_forward(*args, **kw)
        return sum(np.sum(s * d) for s, d in zip(new, d_states))

    assert len(grads) == len(args)
    for name, arg, grad in zip(grads._fields, args, grads):
        assert_grad(f"{cell} {name}", grad, numerical_gradient(loss, arg))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("N, T, D, H, lengths", [(3, 5, 2, 4, None), (3, 5, 2, 4, [5, 1, 3]),
                                                 (1, 1, 1, 1, None)])
def test_sequence_backward_matches_finite_differences(cell, N, T, D, H, lengths):
    """backward returns the gradient of sum(hs * dhs) + sum(final * d_final), also with lengths."""
    module, _, _, kw = CELLS[cell]
    rng = np.random.default_rng(1)
    args = [rng.normal(size=(N, T, D)), *states(cell, rng, N, H), *weights(cell, rng, D, H)]
    kw = {**kw, "lengths": None if lengths is None else np.array(lengths)}
    dhs, d_final = rng.normal(size=(N, T, H)), states(cell, rng, N, H)
    hs, *_, cache = module.forward(*args, **kw)
    grads = module.backward(dhs, cache, *d_final)

    def loss(_):
        hs, *final, _ = module.forward(*args, **kw)
        return np.sum(hs * dhs) + sum(np.sum(s * d) for s, d in zip(final, d_final))

    assert len(grads) == len(args)
    for name, arg, grad in zip(grads._fields, args, grads):
        assert_grad(f"{cell} {name}", grad, numerical_gradient(loss, arg))


@pytest.mark.parametrize("cell", CELLS)
def test_sequence_forward_is_a_loop_over_step_forward(cell):
    """forward's outputs and final states are step_forward applied at t = 0..T-1."""
    module, _, _, kw = CELLS[cell]
    rng = np.random.default_rng(2)
    N, T, D, H = 2, 6, 3, 4
    x, state, w = rng.normal(size=(N, T, D)), states(cell, rng, N, H), weights(cell, rng, D, H)
    hs, *final, _ = module.forward(x, *state, *w, **kw)
    for t in range(T):
        *state, _ = module.step_forward(x[:, t], *state, *w, **kw)
        assert_close(hs[:, t], state[0], 1e-12, f"hs[:, {t}]")
    for k, (got, want) in enumerate(zip(final, state)):
        assert_close(got, want, 1e-12, f"final state {k}")


@pytest.mark.parametrize("cell", CELLS)
def test_float32_stays_float32(cell):
    """No silent float64 upcast: float32 inputs give float32 outputs and gradients."""
    module, _, _, kw = CELLS[cell]
    rng = np.random.default_rng(3)
    f32 = np.float32
    x = rng.normal(size=(2, 3, 2)).astype(f32)
    hs, *final, cache = module.forward(x, *states(cell, rng, 2, 4, f32),
                                       *weights(cell, rng, 2, 4, f32), **kw)
    grads = module.backward(np.ones_like(hs), cache)
    assert {a.dtype for a in (hs, *final, *grads)} == {np.dtype(f32)}
