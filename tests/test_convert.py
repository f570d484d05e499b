"""The weight converters (rnnkit/convert.py) against the real layers and a TF1 reference.

* canonical -> torch -> canonical through a real ``torch.nn`` module: exact.
* canonical -> Keras -> canonical through a real ``keras.layers`` model: exact when
  ``b_hh = 0``; otherwise the fused bias keeps the sum ``b_ih + b_hh``.
* TF1 ``LSTMCell``: TensorFlow 2 with Keras 3 no longer ships it, so its documented equations
  are written out in NumPy below and compared with ``rnnkit.forward``.
* parameter counts: ``count_params(convention="keras")`` equals ``model.count_params()``.
"""
import itertools

import numpy as np
import pytest

import rnnkit
from rnnkit.checks import rel_error
from rnnkit.convert import (from_keras, from_tf1_lstm, from_torch_state_dict, to_keras,
                            to_tf1_lstm, to_torch_state_dict)
from rnnkit.weights import init_weights

GRID = list(itertools.product(["rnn", "lstm", "gru"], [1, 2], [False, True]))
IDS = [f"{c}-L{L}-{'bi' if b else 'uni'}" for c, L, b in GRID]
D, H = 3, 4


@pytest.mark.parametrize("cell,num_layers,bidirectional", GRID, ids=IDS)
def test_torch_round_trip_is_exact(cell, num_layers, bidirectional):
    """canonical -> torch.nn module -> canonical returns every array bit for bit."""
    torch = pytest.importorskip("torch")
    w = init_weights(cell, D, H, num_layers, bidirectional, seed=1)
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        D, H, num_layers, batch_first=True, bidirectional=bidirectional)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in to_torch_state_dict(w).items()})
    back = from_torch_state_dict(module.state_dict())
    assert sorted(back) == sorted(w)
    for k in w:
        np.testing.assert_array_equal(back[k], w[k], err_msg=k)


@pytest.mark.parametrize("cell,num_layers,bidirectional", GRID, ids=IDS)
def test_keras_round_trip(cell, num_layers, bidirectional):
    """canonical -> keras model -> canonical: exact for b_hh = 0, bias sum kept otherwise."""
    layers = pytest.importorskip("rnnkit.keras.layers")
    zero_b_hh = init_weights(cell, D, H, num_layers, bidirectional, seed=1, scheme="keras")
    back = layers.read_weights(layers.build(cell, zero_b_hh))
    for k in zero_b_hh:
        np.testing.assert_array_equal(back[k], zero_b_hh[k], err_msg=k)

    w = init_weights(cell, D, H, num_layers, bidirectional, seed=1)  # both biases non-zero
    back = layers.read_weights(layers.build(cell, w))
    for k in w:
        if k.startswith("W") or cell == "gru":  # the GRU keeps its two biases apart
            np.testing.assert_array_equal(back[k], w[k], err_msg=k)
    for k in (k for k in w if k.startswith("b_ih") and cell != "gru"):
        k_hh = k.replace("b_ih", "b_hh")
        np.testing.assert_array_equal(back[k], w[k] + w[k_hh], err_msg=k)  # all of it in b_ih
        assert not back[k_hh].any(), f"{k_hh} should come back as zeros"


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_keras_layout(cell):
    """Shapes as in the rnnkit.weights table, and Keras's gate order: LSTM i|f|c|o, GRU z|r|h."""
    g = rnnkit.GATES[cell]
    w = init_weights(cell, D, H, seed=2)
    kernel, recurrent_kernel, bias = to_keras(cell, w)[0]
    assert kernel.shape == (D, g * H) and recurrent_kernel.shape == (H, g * H)
    assert bias.shape == ((2, 3 * H) if cell == "gru" else (g * H,))
    if cell == "gru":  # Keras's first column block (z) is canonical's second row block
        np.testing.assert_array_equal(kernel[:, :H], w["W_ih_l0"][H:2 * H].T)
        np.testing.assert_array_equal(bias[1, H:2 * H], w["b_hh_l0"][:H])  # r, recurrent bias
    else:
        np.testing.assert_array_equal(kernel, w["W_ih_l0"].T)
    grads = from_keras(cell, [[kernel, recurrent_kernel, bias]], fused_bias="both")
    if cell != "gru":  # a gradient of the fused bias is the gradient of each of the two
        np.testing.assert_array_equal(grads["b_ih_l0"], grads["b_hh_l0"])
    with pytest.raises(ValueError, match="fused_bias"):
        from_keras(cell, [[kernel, recurrent_kernel, bias]], fused_bias="sum")


def tf1_lstm_reference(x, kernel, bias, forget_bias, h0, c0):
    """TF1 ``tf.nn.rnn_cell.LSTMCell`` (no peepholes, no projection), from its documentation:

        i, j, f, o = split([x, h] @ kernel + bias, 4)
        c = sigmoid(f + forget_bias) * c_prev + sigmoid(i) * tanh(j)
        h = sigmoid(o) * tanh(c)
    """
    def sigmoid(a):
        return 1 / (1 + np.exp(-a))

    h, c, outs = h0, c0, []
    for t in range(x.shape[1]):
        i, j, f, o = np.split(np.concatenate([x[:, t], h], axis=1) @ kernel + bias, 4, axis=1)
        c = sigmoid(f + forget_bias) * c + sigmoid(i) * np.tanh(j)
        h = sigmoid(o) * np.tanh(c)
        outs.append(h)
    return np.stack(outs, axis=1), h, c  # (N, T, H), (N, H), (N, H)


@pytest.mark.parametrize("forget_bias", [1.0, 0.0, 2.5])
def test_tf1_lstm_matches_its_equations(forget_bias):
    """to_tf1_lstm weights in TF1's equations give rnnkit's LSTM outputs and final state."""
    rng = np.random.default_rng(3)
    w = init_weights("lstm", D, H, seed=3, dtype=np.float64)
    x = rng.standard_normal((2, 5, D))
    h0, c0 = rng.standard_normal((2, 2, H))
    kernel, bias = to_tf1_lstm(w, forget_bias=forget_bias)
    assert kernel.shape == (D + H, 4 * H) and bias.shape == (4 * H,)
    out, h, c = tf1_lstm_reference(x, kernel, bias, forget_bias, h0, c0)
    out_ref, (h_ref, c_ref) = rnnkit.forward("lstm", x, w, h0=(h0, c0))
    for name, ours, ref in (("out", out, out_ref), ("h", h, h_ref), ("c", c, c_ref)):
        err = rel_error(ours, ref)
        print(f"TF1 {name}: rel error {err:.1e} (bound 1e-12)")
        assert err < 1e-12, f"TF1 {name} differs from rnnkit's LSTM: {err:.1e}"


def test_from_tf1_lstm_inverts_to_tf1_lstm():
    """A TF1 (kernel, bias) read in and written out again is unchanged, and runs the same."""
    rng = np.random.default_rng(4)
    kernel, bias = rng.standard_normal((D + H, 4 * H)), rng.standard_normal(4 * H)
    w = from_tf1_lstm(kernel, bias, input_size=D, forget_bias=1.0)
    kernel2, bias2 = to_tf1_lstm(w, forget_bias=1.0)
    np.testing.assert_array_equal(kernel2, kernel)
    np.testing.assert_allclose(bias2, bias, rtol=0, atol=1e-15)  # f: (b + 1) - 1
    x, zeros = rng.standard_normal((3, 4, D)), np.zeros((3, H))
    out, _, _ = tf1_lstm_reference(x, kernel, bias, 1.0, zeros, zeros)
    assert rel_error(out, rnnkit.forward("lstm", x, w)[0]) < 1e-12
    with pytest.raises(ValueError, match="D\\+H"):
        from_tf1_lstm(kernel, bias, input_size=D + 1)


@pytest.mark.parametrize("cell,num_layers,bidirectional", GRID, ids=IDS)
def test_count_params_matches_keras(cell, num_layers, bidirectional):
    """count_params(convention="keras") is what model.count_params() reports."""
    layers = pytest.importorskip("rnnkit.keras.layers")
    model = layers.build(cell, init_weights(cell, D, H, num_layers, bidirectional))
    ours = rnnkit.count_params(cell, D, H, num_layers, bidirectional, convention="keras")
    assert ours == model.count_params(), f"{cell}: ours {ours}, keras {model.count_params()}"
