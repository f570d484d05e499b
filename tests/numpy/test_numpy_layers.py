"""Stacked and bidirectional layers, lengths and truncated BPTT (rnnkit.numpy.layers)."""
import numpy as np
import pytest

import rnnkit
from rnnkit.checks import assert_close, rel_error
from rnnkit.numpy import layers
from rnnkit.numpy.gradcheck import grad_check, numerical_gradient

BOUND = 1e-7  # float64, central differences with h = 1e-5: errors are around 1e-10
CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
CONFIGS = {  # name: (num_layers, bidirectional, lengths, with h0)
    "one layer": (1, False, None, False),
    "h0": (1, False, None, True),
    "lengths": (1, False, [4, 1, 3], False),
    "stacked": (2, False, None, False),
    "bidirectional": (1, True, None, False),
    "stacked bidirectional lengths h0": (2, True, [2, 4, 1], True),
}


def problem(cell, num_layers=1, bidirectional=False, with_h0=False, N=3, T=4, D=2, H=3, seed=0):
    """Random float64 weights, input, initial state (public form) and dout."""
    rng = np.random.default_rng(seed)
    w = rnnkit.init_weights(cell, D, H, num_layers, bidirectional, seed=seed, dtype=np.float64)
    dirs = 2 if bidirectional else 1
    x, dout = rng.normal(size=(N, T, D)), rng.normal(size=(N, T, H * dirs))
    h0 = None
    if with_h0:
        states = [rng.normal(size=(num_layers * dirs, N, H)) for _ in range(1 + (cell == "lstm"))]
        h0 = tuple(states) if cell == "lstm" else states[0]
    return w, x, dout, h0


def state0(spec, h0, N):
    """Stacked (L*dirs, N, H) initial state(s) for calling layers directly."""
    LD, H = spec.num_layers * spec.directions, spec.hidden_size
    if h0 is None:
        zeros = np.zeros((LD, N, H))
        return (zeros, zeros) if spec.cell == "lstm" else zeros
    return h0


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("cell, nonlinearity", CELLS)
def test_gradients_match_finite_differences(cell, nonlinearity, config):
    """rnnkit.gradients(backend="numpy") agrees with central differences of sum(out * dout)."""
    num_layers, bidirectional, lengths, with_h0 = CONFIGS[config]
    w, x, dout, h0 = problem(cell, num_layers, bidirectional, with_h0)
    lengths = None if lengths is None else np.array(lengths)
    errors = grad_check(cell, x, w, dout, h0, lengths, nonlinearity, bound=BOUND)
    assert set(errors) == set(w) | {"x"} | ({"h0", "c0"} if cell == "lstm" and with_h0 else
                                          {"h0"} if with_h0 else set())
    assert max(errors.values()) < BOUND, errors


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_final_state_gradient_matches_finite_differences(cell):
    """layers.backward's dstate: the gradient also flows in from the final states."""
    w, x, dout, h0 = problem(cell, 2, True, with_h0=True, seed=1)
    spec, lengths = rnnkit.spec_from_weights(cell, w), np.array([3, 4, 1])
    rng = np.random.default_rng(2)
    dstate = tuple(rng.normal(size=s.shape) for s in (h0 if cell == "lstm" else (h0,)))
    dstate = dstate if cell == "lstm" else dstate[0]

    def loss(_):
        out, state = layers.forward(spec, x, w, h0, lengths)
        pairs = zip(state, dstate) if cell == "lstm" else [(state, dstate)]
        return np.sum(out * dout) + sum(np.sum(s * ds) for s, ds in pairs)

    _, _, cache = layers.forward_with_cache(spec, x, w, h0, lengths)
    grads = layers.backward(dout, cache, dstate)
    for name, value in [("W_hh_l0", w["W_hh_l0"]), ("W_ih_l1_reverse", w["W_ih_l1_reverse"]),
                        ("x", x), ("h0", h0[0] if cell == "lstm" else h0)]:
        err = rel_error(grads[name], numerical_gradient(loss, value))
        print(f"{name}  rel error {err:.1e}  (bound {BOUND:.0e})")
        assert err < BOUND


@pytest.mark.parametrize("cell, nonlinearity", CELLS)
def test_padded_outputs_are_zero_and_final_state_is_the_last_valid_one(cell, nonlinearity):
    """With lengths, out[n, t >= L_n] is exactly 0 and the state is that of x[n, :L_n] alone."""
    w, x, _, h0 = problem(cell, 2, True, with_h0=True, N=3, T=5)
    lengths = np.array([5, 2, 3])
    out, state = rnnkit.forward(cell, x, w, "numpy", h0, lengths, nonlinearity)
    for n, L in enumerate(lengths):
        assert np.all(out[n, L:] == 0), f"outputs past length {L} of sequence {n} must be 0"
        h0_n = tuple(s[:, n:n + 1] for s in h0) if cell == "lstm" else h0[:, n:n + 1]
        out_n, state_n = rnnkit.forward(cell, x[n:n + 1, :L], w, "numpy", h0_n,
                                        nonlinearity=nonlinearity)
        assert_close(out[n:n + 1, :L], out_n, 1e-12, f"out of sequence {n}")
        for s, s_n in zip(*((state, state_n) if cell == "lstm" else ((state,), (state_n,)))):
            assert_close(s[:, n:n + 1], s_n, 1e-12, f"final state of sequence {n}")


@pytest.mark.parametrize("cell, nonlinearity", CELLS)
def test_truncate_of_at_least_T_is_full_bptt(cell, nonlinearity):
    """truncate=T (or more) never cuts: the gradients equal full BPTT's exactly."""
    w, x, dout, h0 = problem(cell, 2, True, with_h0=True, T=5)
    spec, lengths = rnnkit.spec_from_weights(cell, w), np.array([5, 2, 4])
    full = layers.gradients(spec, x, w, dout, h0, lengths, nonlinearity)
    for k in (5, 100):
        cut = layers.gradients(spec, x, w, dout, h0, lengths, nonlinearity, truncate=k)
        assert all(np.array_equal(full[name], cut[name]) for name in full)
    cut = layers.gradients(spec, x, w, dout, h0, lengths, nonlinearity, truncate=2)
    assert not np.allclose(full["W_hh_l0"], cut["W_hh_l0"]), "truncate=2 < T must change dW_hh"


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("cell, nonlinearity", CELLS)
def test_truncated_bptt_is_the_sum_of_separately_run_chunks(cell, nonlinearity, k):
    """truncate=k equals running each chunk [s, s+k) as its own forward and backward pass,
    started from the state the previous chunk reached, treated as a constant."""
    w, x, dout, h0 = problem(cell, 2, False, with_h0=True, T=7)
    spec, T = rnnkit.spec_from_weights(cell, w), x.shape[1]
    expected = {name: np.zeros_like(v) for name, v in w.items()}
    dx_chunks, state = [], h0
    for s in range(0, T, k):
        _, next_state, cache = layers.forward_with_cache(spec, x[:, s:s + k], w, state,
                                                         nonlinearity=nonlinearity)
        g = layers.backward(dout[:, s:s + k], cache)
        for name in w:
            expected[name] += g[name]
        dx_chunks.append(g["x"])
        if s == 0:
            expected.update({key: g[key] for key in ("h0", "c0") if key in g})
        state = next_state
    expected["x"] = np.concatenate(dx_chunks, axis=1)
    got = layers.gradients(spec, x, w, dout, h0, None, nonlinearity, truncate=k)
    assert set(got) == set(expected)
    for name in expected:
        assert_close(got[name], expected[name], 1e-12, name)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_reverse_direction_truncates_in_its_own_processing_order(cell):
    """The reverse direction with truncate=k is the forward direction, truncate=k, run on each
    sequence flipped within its length (flipped here by hand, not with layers._flip)."""
    w, x, dout, h0 = problem(cell, 1, True, N=3, T=6)
    spec, H, lengths = rnnkit.spec_from_weights(cell, w), 3, np.array([6, 4, 1])
    got = layers.gradients(spec, x, w, dout, state0(spec, None, 3), lengths, truncate=4)
    x_rev, dout_rev = np.zeros_like(x), np.zeros_like(dout[:, :, H:])
    for n, L in enumerate(lengths):
        x_rev[n, :L], dout_rev[n, :L] = x[n, L - 1::-1], dout[n, L - 1::-1, H:]
    w_rev = {name: w[name + "_l0_reverse"] for name in layers.NAMES}
    w_rev = {name + "_l0": v for name, v in w_rev.items()}
    spec_rev = rnnkit.spec_from_weights(cell, w_rev)
    ref = layers.gradients(spec_rev, x_rev, w_rev, dout_rev, state0(spec_rev, None, 3), lengths,
                           truncate=4)
    for name in layers.NAMES:
        assert_close(got[name + "_l0_reverse"], ref[name + "_l0"], 1e-12, name + "_l0_reverse")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_float32_stays_float32(cell):
    """float32 in, float32 out: no silent upcast anywhere in the stack."""
    w = rnnkit.init_weights(cell, 3, 4, num_layers=2, bidirectional=True)
    x = np.ones((2, 5, 3), np.float32)
    out, _ = rnnkit.forward(cell, x, w, lengths=np.array([5, 3]))
    grads = rnnkit.gradients(cell, x, w, np.ones_like(out), lengths=np.array([5, 3]))
    assert out.dtype == np.float32
    assert {g.dtype for g in grads.values()} == {np.dtype(np.float32)}


def test_public_gradients_accept_truncate():
    """rnnkit.gradients(truncate=k) equals the numpy layer call, and T steps equals full BPTT."""
    rng = np.random.default_rng(3)
    w = rnnkit.init_weights("lstm", 2, 3, seed=1, dtype=np.float64)
    x, dout = rng.standard_normal((2, 7, 2)), rng.standard_normal((2, 7, 3))
    spec = rnnkit.spec_from_weights("lstm", w)
    state0 = (np.zeros((1, 2, 3)), np.zeros((1, 2, 3)))
    direct = layers.gradients(spec, x, w, dout, state0, truncate=3)
    public = rnnkit.gradients("lstm", x, w, dout, truncate=3)
    full = rnnkit.gradients("lstm", x, w, dout)
    for k in w:
        np.testing.assert_array_equal(public[k], direct[k])
    assert rnnkit.rel_error(public["W_hh_l0"], full["W_hh_l0"]) > 1e-3  # truncation matters here
    long = rnnkit.gradients("lstm", x, w, dout, truncate=7)
    assert all(np.array_equal(long[k], full[k]) for k in full)
    with pytest.raises(ValueError, match="numpy"):
        rnnkit.gradients("lstm", x, w, dout, backend="torch", truncate=3)
