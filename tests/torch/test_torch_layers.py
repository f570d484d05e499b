"""The PyTorch backend (rnnkit/torch/layers.py): build, read_weights, forward, gradients.

forward and gradients are checked against a stack assembled from the hand-written cells
(themselves checked against torch.nn in test_torch_cells.py), through the public rnnkit API.
"""
import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.checks import rel_error
from rnnkit.torch import GRUCell, LSTMCell, RNNCell, build, read_weights, run

BOUND = {np.float64: 1e-6, np.float32: 1e-5}
CELLS = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}
CONFIGS = [(cell, layers, bi) for cell in ("rnn", "lstm", "gru") for layers in (1, 2)
           for bi in (False, True)]
NONLINEAR = [c + ("tanh",) for c in CONFIGS] + [c + ("relu",) for c in CONFIGS if c[0] == "rnn"]
N, T, D, H = 4, 6, 3, 5


def close(name, ours, theirs, bound):
    """Assert rel_error(ours, theirs) < bound, printing the error (see it with pytest -s)."""
    err = rel_error(ours, theirs)
    print(f"{name:>16}: rel error {err:.1e} (bound {bound:.0e})")
    assert err < bound, f"{name}: relative error {err:.2e} >= {bound:.0e}"


def setup(cell, layers, bi, dtype=np.float64, seed=0):
    """Weights, x, h0 (stacked; a pair for an LSTM) and dout for one configuration."""
    rng = np.random.default_rng(seed)
    w = rnnkit.init_weights(cell, D, H, layers, bi, seed=seed, dtype=dtype)
    LD, dirs = layers * (2 if bi else 1), 2 if bi else 1
    x, dout = (rng.standard_normal(s).astype(dtype) for s in ((N, T, D), (N, T, H * dirs)))
    h0 = tuple(rng.standard_normal((LD, N, H)).astype(dtype) for _ in range(2))
    return w, x, (h0 if cell == "lstm" else h0[0]), dout


def reference(cell, w, x, h0, dout, nonlinearity="tanh"):
    """A stacked, bidirectional layer built from our cells, as torch.nn's docs describe it.

    Returns (out, state, grads) as NumPy, grads by autograd of sum(out * dout).
    """
    spec = rnnkit.spec_from_weights(cell, w)
    x = torch.tensor(x, requires_grad=True)
    starts = [torch.tensor(s, requires_grad=True) for s in (h0 if cell == "lstm" else (h0,))]
    extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    params, finals, layer_in = {}, [], x
    for layer in range(spec.num_layers):
        outs = []
        for direction, sfx in enumerate(("", "_reverse")[:spec.directions]):
            k = layer * spec.directions + direction  # row of the stacked state
            ours = CELLS[cell].from_canonical(w, layer, sfx, **extra)
            params.update({f"{n}_l{layer}{sfx}": p for n, p in ours.named_parameters()})
            state0 = tuple(s[k] for s in starts) if cell == "lstm" else starts[0][k]
            seq = layer_in.flip(1) if direction else layer_in  # reverse: read right to left
            out, state = run(ours, seq, state0)
            outs.append(out.flip(1) if direction else out)  # (N, T, H), back in time order
            finals.append(state if cell == "lstm" else (state,))
        layer_in = torch.cat(outs, dim=2)  # (N, T, H*dirs) feeds the next layer
    (layer_in * torch.as_tensor(dout)).sum().backward()
    grads = {name: p.grad.numpy() for name, p in params.items()}
    grads.update({"x": x.grad.numpy()})
    grads.update({n: s.grad.numpy() for n, s in zip(("h0", "c0"), starts)})
    state = [torch.stack(s).detach().numpy() for s in zip(*finals)]  # (L*dirs, N, H) each
    return layer_in.detach().numpy(), tuple(state) if cell == "lstm" else state[0], grads


def squeeze(state, layers, bi):
    """The public API drops the leading axis of the stacked state for 1 layer, 1 direction."""
    if layers == 1 and not bi:
        return tuple(s[0] for s in state) if isinstance(state, tuple) else state[0]
    return state


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell,layers,bi", CONFIGS)
def test_build_read_weights_round_trip(cell, layers, bi, dtype):
    """build then read_weights gives back exactly the canonical dict, dtype included."""
    w = rnnkit.init_weights(cell, D, H, layers, bi, seed=1, dtype=dtype)
    module = build(cell, w)
    assert isinstance(module, {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM,
                               "gru": torch.nn.GRU}[cell])
    assert (module.batch_first, module.num_layers, module.bidirectional) == (True, layers, bi)
    back = read_weights(module)
    assert sorted(back) == sorted(w)
    for name in w:
        assert back[name].dtype == dtype and np.array_equal(back[name], w[name]), name


@pytest.mark.parametrize("cell,layers,bi", CONFIGS)
def test_count_params_matches_torch(cell, layers, bi):
    """rnnkit.count_params(convention="torch") equals what the torch module holds."""
    module = build(cell, rnnkit.init_weights(cell, D, H, layers, bi))
    expected = sum(p.numel() for p in module.parameters())
    assert rnnkit.count_params(cell, D, H, layers, bi, convention="torch") == expected


@pytest.mark.parametrize("cell,layers,bi,nonlinearity", NONLINEAR)
def test_forward_and_gradients_match_cell_stack(cell, layers, bi, nonlinearity):
    """rnnkit.forward/gradients(backend="torch") equal our cells stacked by hand."""
    w, x, h0, dout = setup(cell, layers, bi)
    out_ref, state_ref, grads_ref = reference(cell, w, x, h0, dout, nonlinearity)
    public_h0 = squeeze(h0, layers, bi)
    out, state = rnnkit.forward(cell, x, w, "torch", public_h0, nonlinearity=nonlinearity)
    grads = rnnkit.gradients(cell, x, w, dout, "torch", public_h0, nonlinearity=nonlinearity)
    bound = BOUND[np.float64]
    close("out", out, out_ref, bound)
    for name, a, b in zip(("h_T", "c_T"), state if cell == "lstm" else (state,),
                          squeeze(state_ref, layers, bi) if cell == "lstm"
                          else (squeeze(state_ref, layers, bi),)):
        close(name, a, b, bound)
    assert sorted(grads) == sorted(grads_ref)
    for name in grads_ref:
        want = grads_ref[name] if name not in ("h0", "c0") else squeeze(grads_ref[name], layers, bi)
        close("d" + name, grads[name], want, bound)


@pytest.mark.parametrize("bi", [False, True])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_lengths_zero_padding_and_final_state(cell, bi):
    """With lengths, padded outputs are exactly 0 and each result equals the cut sequence's."""
    w, x, h0, dout = setup(cell, 2, bi)
    lengths = np.array([T, 1, 3, T - 1])
    out, state = rnnkit.forward(cell, x, w, "torch", h0, lengths)
    grads = rnnkit.gradients(cell, x, w, dout, "torch", h0, lengths)
    summed = {}  # weight gradients of the batch = sum of each sequence's own
    for i, n in enumerate(lengths):
        assert np.all(out[i, n:] == 0), f"sequence {i}: outputs past length {n} are not zero"
        assert np.all(grads["x"][i, n:] == 0), f"sequence {i}: dx past length {n} is not zero"
        h0_i = tuple(s[:, i:i + 1] for s in h0) if cell == "lstm" else h0[:, i:i + 1]
        out_i, state_i = rnnkit.forward(cell, x[i:i + 1, :n], w, "torch", h0_i)
        grads_i = rnnkit.gradients(cell, x[i:i + 1, :n], w, dout[i:i + 1, :n], "torch", h0_i)
        close(f"out[{i}]", out[i, :n], out_i[0], BOUND[np.float64])
        for name, a, b in zip(("h_T", "c_T"), state if cell == "lstm" else (state,),
                              state_i if cell == "lstm" else (state_i,)):
            close(f"{name}[{i}]", a[:, i], b[:, 0], BOUND[np.float64])
        close(f"dx[{i}]", grads["x"][i, :n], grads_i["x"][0], BOUND[np.float64])
        for name in ("h0", "c0") if cell == "lstm" else ("h0",):
            close(f"d{name}[{i}]", grads[name][:, i], grads_i[name][:, 0], BOUND[np.float64])
        for name in w:
            summed[name] = summed.get(name, 0) + grads_i[name]
    for name in w:
        close("d" + name, grads[name], summed[name], BOUND[np.float64])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_h0_forms_and_gradient_keys(cell):
    """h0 may be (N, H) or (1, N, H) for one layer; None means zeros; gradient keys follow h0."""
    w, x, h0, dout = setup(cell, 1, False, dtype=np.float32)
    flat = tuple(s[0] for s in h0) if cell == "lstm" else h0[0]  # (N, H)
    zeros = tuple(np.zeros_like(s) for s in flat) if cell == "lstm" else np.zeros_like(flat)
    out_flat, _ = rnnkit.forward(cell, x, w, "torch", flat)
    out_stacked, _ = rnnkit.forward(cell, x, w, "torch", h0)
    out_none, _ = rnnkit.forward(cell, x, w, "torch")
    out_zeros, _ = rnnkit.forward(cell, x, w, "torch", zeros)
    assert np.array_equal(out_flat, out_stacked)
    assert np.array_equal(out_none, out_zeros)
    assert not np.allclose(out_flat, out_none), "a nonzero h0 should change the output"
    states = ("h0", "c0") if cell == "lstm" else ("h0",)
    assert not set(states) & set(rnnkit.gradients(cell, x, w, dout, "torch"))
    grads = rnnkit.gradients(cell, x, w, dout, "torch", flat)
    for name, s in zip(states, flat if cell == "lstm" else (flat,)):
        assert grads[name].shape == s.shape == (N, H)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    """float32 in, float32 out; float64 in, float64 out (values and gradients)."""
    w, x, h0, dout = setup("lstm", 2, True, dtype=dtype)
    out, (h, c) = rnnkit.forward("lstm", x, w, "torch", h0)
    grads = rnnkit.gradients("lstm", x, w, dout, "torch", h0)
    assert {a.dtype for a in (out, h, c, *grads.values())} == {np.dtype(dtype)}


def bad_calls():
    w, x, h0, dout = setup("gru", 2, False, dtype=np.float32)
    lstm_w = rnnkit.init_weights("lstm", D, H)
    return {
        "x missing the batch axis": lambda: rnnkit.forward("gru", x[0], w, "torch"),
        "x with the wrong D": lambda: rnnkit.forward("gru", x[..., :2], w, "torch"),
        "h0 (N, H) for a 2-layer stack": lambda: rnnkit.forward("gru", x, w, "torch", h0[0]),
        "h0 with batch and layers swapped": lambda: rnnkit.forward(
            "gru", x, w, "torch", h0.transpose(1, 0, 2)),
        "a tuple h0 for a gru": lambda: rnnkit.forward("gru", x, w, "torch", (h0, h0)),
        "a length of 0": lambda: rnnkit.forward("gru", x, w, "torch", lengths=[0, 1, 2, 3]),
        "a length past T": lambda: rnnkit.forward("gru", x, w, "torch", lengths=[T + 1] * N),
        "dout of the wrong shape": lambda: rnnkit.gradients("gru", x, w, dout[:, :-1], "torch"),
        "lstm weights for a gru": lambda: rnnkit.forward("gru", x, lstm_w, "torch"),
        "relu for an lstm": lambda: build("lstm", lstm_w, nonlinearity="relu"),
    }


@pytest.mark.parametrize("case", sorted(bad_calls()))
def test_bad_inputs_raise_value_error(case):
    """Wrong shapes and options fail with a ValueError before reaching torch."""
    with pytest.raises(ValueError):
        bad_calls()[case]()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_cuda_matches_cpu(cell):
    """On a GPU (cuDNN, TF32 off) the backend matches the CPU to float32 precision."""
    from rnnkit.torch.layers import forward, gradients  # the backend, with its device argument
    w, x, h0, dout = setup(cell, 2, True, dtype=np.float32)
    spec, lengths = rnnkit.spec_from_weights(cell, w), np.array([T, 2, 4, 1])
    cpu_out, _ = forward(spec, x, w, h0, lengths, "tanh")
    gpu_out, _ = forward(spec, x, w, h0, lengths, "tanh", device="cuda")
    cpu_grads = gradients(spec, x, w, dout, h0, lengths, "tanh")
    gpu_grads = gradients(spec, x, w, dout, h0, lengths, "tanh", device="cuda")
    close("out", gpu_out, cpu_out, BOUND[np.float32])
    for name in cpu_grads:
        close("d" + name, gpu_grads[name], cpu_grads[name], BOUND[np.float32])
