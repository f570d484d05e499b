"""The hand-written cells (rnnkit/torch/rnn.py, lstm.py, gru.py) against torch.nn's own.

Same weights in both, then values and autograd gradients compared with rel_error.
"""
import numpy as np
import pytest
import torch

from rnnkit.checks import rel_error
from rnnkit.convert import to_torch_state_dict
from rnnkit.torch import GRUCell, LSTMCell, RNNCell, build, run
from rnnkit.weights import init_weights

BOUND = {torch.float64: 1e-6, torch.float32: 1e-5}
OURS = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}
THEIRS = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}
CASES = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
DTYPES = [torch.float64, torch.float32]
N, T, D, H = 3, 6, 4, 5


def close(name, ours, theirs, bound):
    """Assert rel_error(ours, theirs) < bound, printing the error (see it with pytest -s)."""
    ours, theirs = (t.detach().numpy() if torch.is_tensor(t) else t for t in (ours, theirs))
    err = rel_error(ours, theirs)
    print(f"{name:>12}: rel error {err:.1e} (bound {bound:.0e})")
    assert err < bound, f"{name}: relative error {err:.2e} >= {bound:.0e}"


def weights(cell, dtype, seed=0, **kw):
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    return init_weights(cell, D, H, seed=seed, dtype=np_dtype, **kw)


def ours_from(cell, nonlinearity, w, **kw):
    extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    return OURS[cell].from_canonical(w, **kw, **extra)


def theirs_from(cell, nonlinearity, w, dtype):
    extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    theirs = THEIRS[cell](D, H, dtype=dtype, **extra)
    state_dict = to_torch_state_dict(w)  # weight_ih_l0, ...; a torch cell drops the "_l0"
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.as_tensor(state_dict[name + "_l0"]))
    return theirs


def randn(*shape, dtype, seed):
    return torch.as_tensor(np.random.default_rng(seed).standard_normal(shape), dtype=dtype)


def leaf(t):
    return t.clone().requires_grad_(True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cell,nonlinearity", CASES)
def test_step_matches_torch_cell(cell, nonlinearity, dtype):
    """One step of our cell equals torch.nn.{RNN,LSTM,GRU}Cell: values and gradients."""
    w = weights(cell, dtype)
    ours, theirs = ours_from(cell, nonlinearity, w), theirs_from(cell, nonlinearity, w, dtype)
    x, h, c = (randn(N, n, dtype=dtype, seed=s) for s, n in ((1, D), (2, H), (3, H)))
    dh, dc = randn(N, H, dtype=dtype, seed=4), randn(N, H, dtype=dtype, seed=5)
    results = []
    for module, names in ((ours, ("W_ih", "W_hh", "b_ih", "b_hh")),
                          (theirs, ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))):
        inputs = [leaf(x), leaf(h), leaf(c)]
        state = (inputs[1], inputs[2]) if cell == "lstm" else inputs[1]
        new = module(inputs[0], state)
        loss = (new[0] * dh + new[1] * dc).sum() if cell == "lstm" else (new * dh).sum()
        wrt = [getattr(module, n) for n in names] + inputs[:3 if cell == "lstm" else 2]
        results.append((new if cell == "lstm" else (new,), torch.autograd.grad(loss, wrt)))
    (ours_new, ours_grads), (their_new, their_grads) = results
    for name, a, b in zip(("h", "c"), ours_new, their_new):
        close(name, a, b, BOUND[dtype])
    for name, a, b in zip(("dW_ih", "dW_hh", "db_ih", "db_hh", "dx", "dh'", "dc'"),
                          ours_grads, their_grads):
        close(name, a, b, BOUND[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cell,nonlinearity", CASES)
def test_run_matches_torch_layer(cell, nonlinearity, dtype):
    """run(our cell, x) over T steps equals torch.nn.{RNN,LSTM,GRU}: out, state, gradients."""
    w = weights(cell, dtype)
    ours, theirs = ours_from(cell, nonlinearity, w), build(cell, w, nonlinearity)
    x, h0, c0 = (randn(*shape, dtype=dtype, seed=s)
                 for s, shape in ((1, (N, T, D)), (2, (N, H)), (3, (N, H))))
    dout = randn(N, T, H, dtype=dtype, seed=4)

    xs, hs, cs = leaf(x), leaf(h0), leaf(c0)
    out, state = run(ours, xs, (hs, cs) if cell == "lstm" else hs)
    wrt = [ours.W_ih, ours.W_hh, ours.b_ih, ours.b_hh, xs, hs] + ([cs] if cell == "lstm" else [])
    ours_grads = torch.autograd.grad((out * dout).sum(), wrt)

    # torch.nn layers take and return states as (layers*directions, N, H): here (1, N, H).
    xt, ht, ct = leaf(x), leaf(h0[None]), leaf(c0[None])
    out_t, state_t = theirs(xt, (ht, ct) if cell == "lstm" else ht)
    wrt = [theirs.weight_ih_l0, theirs.weight_hh_l0, theirs.bias_ih_l0, theirs.bias_hh_l0, xt, ht]
    their_grads = torch.autograd.grad((out_t * dout).sum(), wrt + ([ct] if cell == "lstm" else []))

    close("out", out, out_t, BOUND[dtype])
    for name, a, b in zip(("h_T", "c_T"), state if cell == "lstm" else (state,),
                          state_t if cell == "lstm" else (state_t,)):
        close(name, a, b[0], BOUND[dtype])
    for name, a, b in zip(("dW_ih", "dW_hh", "db_ih", "db_hh", "dx", "dh0", "dc0"),
                          ours_grads, their_grads):
        close(name, a, b.reshape(a.shape), BOUND[dtype])


@pytest.mark.parametrize("cell,nonlinearity", CASES)
def test_reverse_direction_is_a_cell_run_backwards(cell, nonlinearity):
    """A bidirectional layer's second half is our "_reverse" cell run over the flipped input."""
    w = weights(cell, torch.float64, bidirectional=True)
    x = randn(N, T, D, dtype=torch.float64, seed=1)
    with torch.no_grad():
        out_t, state_t = build(cell, w, nonlinearity)(x)
        reverse = ours_from(cell, nonlinearity, w, suffix="_reverse")
        out, state = run(reverse, x.flip(1))
    h_n = state_t[0] if cell == "lstm" else state_t
    h_T = state[0] if cell == "lstm" else state
    close("out reverse", out.flip(1), out_t[..., H:], BOUND[torch.float64])
    close("h_n[1]", h_T, h_n[1], BOUND[torch.float64])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_from_canonical_copies_names_shapes_and_values(cell):
    """Parameters are named W_ih, W_hh, b_ih, b_hh, in canonical shapes, equal to w exactly."""
    w = init_weights(cell, D, H, num_layers=2, bidirectional=True, seed=3)
    ours = OURS[cell].from_canonical(w, layer=1, suffix="_reverse")
    assert [n for n, _ in ours.named_parameters()] == ["W_ih", "W_hh", "b_ih", "b_hh"]
    for name, p in ours.named_parameters():
        assert p.dtype == torch.float32
        assert np.array_equal(p.detach().numpy(), w[name + "_l1_reverse"]), name
    w64 = init_weights(cell, D, H, dtype=np.float64)
    assert OURS[cell].from_canonical(w64).W_ih.dtype == torch.float64


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_missing_state_means_zeros(cell):
    """forward(x) with no state equals forward(x, zeros)."""
    ours = OURS[cell](D, H)
    x, zeros = randn(N, D, dtype=torch.float32, seed=1), torch.zeros(N, H)
    implicit, explicit = ours(x), ours(x, (zeros, zeros) if cell == "lstm" else zeros)
    for a, b in zip(implicit, explicit) if cell == "lstm" else [(implicit, explicit)]:
        assert torch.equal(a, b)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_from_canonical_rejects_wrong_weights(cell):
    """Another cell type's weights, or a layer that does not exist, raise a ValueError."""
    other = "gru" if cell == "lstm" else "lstm"
    with pytest.raises(ValueError, match="gate block"):
        OURS[cell].from_canonical(init_weights(other, D, H))
    with pytest.raises(ValueError, match="Layers count from 0"):
        OURS[cell].from_canonical(init_weights(cell, D, H), layer=1)
