"""The Keras backend (rnnkit/keras/): hand-written cells, masking, and the traced fast path.

* The cells of rnnkit/keras/{rnn,lstm,gru}.py, looped by ``keras.layers.RNN``, against the real
  ``keras.layers.SimpleRNN/LSTM/GRU`` that :func:`build` makes: values and gradients.
* Variable lengths through Keras masking against the same sequences cut to their length.
* Repeated calls reuse one model and trace one ``tf.function``, which computes what the eager
  calls compute.
"""
import numpy as np
import pytest

import rnnkit
from rnnkit.checks import rel_error

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
from rnnkit.keras import GRUCell, LSTMCell, RNNCell, build, layers, run  # noqa: E402

OURS = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}
CASES = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
N, T, D, H = 3, 6, 4, 5


def close(name, ours, theirs, bound):
    """Assert rel_error(ours, theirs) < bound, printing the error (see it with pytest -s)."""
    err = rel_error(np.asarray(ours), np.asarray(theirs))
    print(f"{name:>12}: rel error {err:.1e} (bound {bound:.0e})")
    assert err < bound, f"{name}: relative error {err:.2e} >= {bound:.0e}"


@pytest.mark.parametrize("dtype,bound", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("cell,nonlinearity", CASES)
def test_cell_matches_keras_layer(cell, nonlinearity, dtype, bound):
    """Our cell in keras.layers.RNN == Keras's own layer: out, state, and every gradient."""
    rng = np.random.default_rng(0)
    w = rnnkit.init_weights(cell, D, H, seed=0, dtype=dtype)
    x = tf.constant(rng.standard_normal((N, T, D)).astype(dtype))
    h0 = [tf.constant(rng.standard_normal((N, H)).astype(dtype))
          for _ in range(2 if cell == "lstm" else 1)]
    dout = tf.constant(rng.standard_normal((N, T, H)).astype(dtype))
    extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    ours = OURS[cell].from_canonical(w, **extra)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, *h0])
        out, state = run(ours, x, tuple(h0) if cell == "lstm" else h0[0])
        loss = tf.reduce_sum(out * dout)
    theirs_out, *theirs_state = build(cell, w, nonlinearity)([x, *h0])
    close("out", out, theirs_out, bound)
    close("state", np.stack(state if cell == "lstm" else [state]), np.stack(theirs_state), bound)

    grads = rnnkit.gradients(cell, x.numpy(), w, dout.numpy(), backend="keras",
                             h0=(h0[0].numpy(), h0[1].numpy()) if cell == "lstm" else h0[0].numpy(),
                             nonlinearity=nonlinearity)
    names = ["W_ih", "W_hh", "b_ih", "b_hh"]
    ours_grads = tape.gradient(loss, [x, h0, [getattr(ours, n) for n in names]])
    close("dx", ours_grads[0], grads["x"], bound)
    close("dh0", ours_grads[1][0], grads["h0"], bound)
    for n, g in zip(names, ours_grads[2]):
        close("d" + n, g, grads[n + "_l0"], bound)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_masking_matches_cut_sequences(cell):
    """With lengths, each sequence gets what it gets alone and cut to its length; 0 after."""
    rng = np.random.default_rng(1)
    w = rnnkit.init_weights(cell, D, H, num_layers=2, bidirectional=True, seed=1)
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    lengths = np.array([T, 2, 4])
    out, state = rnnkit.forward(cell, x, w, backend="keras", lengths=lengths)
    for n, length in enumerate(lengths):
        alone, state_n = rnnkit.forward(cell, x[n:n + 1, :length], w, backend="keras")
        close(f"out[{n}]", out[n, :length], alone[0], 1e-6)
        for s, s_n in zip(state if cell == "lstm" else [state],
                          state_n if cell == "lstm" else [state_n]):
            close(f"state[{n}]", s[:, n], s_n[:, 0], 1e-6)  # (L*dirs, N, H)
        assert not out[n, length:].any(), "outputs past a sequence's length must be 0"


def test_model_and_trace_are_reused():
    """Calls with new N and T reuse the cached model; the traced function equals eager."""
    rng = np.random.default_rng(2)
    w = rnnkit.init_weights("lstm", D, H, num_layers=2, seed=2)
    key = (rnnkit.spec_from_weights("lstm", w), "tanh", False, "float32")
    layers._CACHE.pop(key, None)  # start from a fresh configuration

    def grads(n, t):
        x = np.random.default_rng(n * t).standard_normal((n, t, D)).astype(np.float32)
        return rnnkit.gradients("lstm", x, w, np.ones((n, t, H), np.float32), backend="keras")

    eager = [grads(2, 3) for _ in range(layers.EAGER_CALLS)]
    traced = grads(2, 3)  # the first call through the tf.function
    for k in traced:
        close(f"traced d{k}", traced[k], eager[0][k], 1e-6)
    grads(4, 7), grads(1, 1)
    runner = layers._CACHE[key]
    assert runner.calls["_run_gradients"] == layers.EAGER_CALLS + 3
    tracing_count = runner.traced["_run_gradients"].experimental_get_tracing_count()
    assert tracing_count == 1, "new N and T must not retrace (the signature leaves them open)"


def test_float64_and_new_weights():
    """float64 runs in float64, and a cached model picks up new weights on every call."""
    x = np.random.default_rng(3).standard_normal((2, 4, D))
    for seed in (0, 1):
        w = rnnkit.init_weights("gru", D, H, seed=seed, dtype=np.float64)
        out, h = rnnkit.forward("gru", x, w, backend="keras")
        ref, h_ref = rnnkit.forward("gru", x, w, backend="numpy")
        assert out.dtype == np.float64
        close(f"seed {seed} out", out, ref, 1e-12)
        close(f"seed {seed} h", h, h_ref, 1e-12)
