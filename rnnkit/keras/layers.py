"""The Keras backend: canonical weights run through the real ``keras.layers`` RNNs.

:func:`build` makes a ``keras.Model`` from ``keras.layers.SimpleRNN``, ``LSTM`` or ``GRU``
(``reset_after=True``, the canonical GRU), wrapped in ``Bidirectional`` (``merge_mode=
"concat"``, forward first) and stacked for several layers, with the weights converted by
:func:`rnnkit.convert.to_keras`. :func:`forward` and :func:`gradients` are the backend contract
of :mod:`rnnkit.api`. Keras is batch-first ``(N, T, D)`` by default, like rnnkit.

Variable lengths. The model takes a boolean ``mask`` (N, T), True at valid steps, rather than
a ``keras.layers.Masking`` layer: ``Masking`` infers the mask from all-zero input rows, which
would also mask a genuine all-zero input. A Keras RNN copies the state through a masked step
and (with ``go_backwards=True``) reverses the mask with the input, so with right padding

* the forward direction's final state is the one at each sequence's last valid step;
* the reverse direction skips the padding first and starts from ``h0`` at step
  ``lengths - 1``, which is exactly the canonical semantics (checked against the same
  sequences cut to their lengths in tests/keras/, and against NumPy and PyTorch in
  tests/test_parity.py).

Outside ``Bidirectional`` a masked step's *output* repeats the previous output, so the model
multiplies the final output by the mask: outputs past a sequence's length are 0.
"""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ..convert import from_keras, to_keras  # noqa: E402
from ..weights import RNNSpec, spec_from_weights  # noqa: E402

# On a GPU, TensorFlow would round float32 matmuls to TF32 (10-bit mantissa) and swamp the
# 1e-5 comparison with the other backends; rnnkit.torch turns it off in PyTorch too.
tf.config.experimental.enable_tensor_float_32_execution(False)

KERAS_LAYERS = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


def _state_names(cell: str) -> tuple[str, ...]:
    return ("h", "c") if cell == "lstm" else ("h",)


def _make_model(spec: RNNSpec, nonlinearity: str, mask: bool, dtype: str) -> keras.Model:
    """The Keras graph for ``spec``, weights left at Keras's initialisers.

    Inputs ``[x, (mask,) *states0]`` and outputs ``[out, *states]``, the states listed per
    layer and direction in canonical order (layer-major, forward first), each ``h`` (then
    ``c`` for an LSTM) of shape (N, H).
    """
    names, H = _state_names(spec.cell), spec.hidden_size
    x = keras.Input((None, spec.input_size), dtype=dtype, name="x")          # (N, T, D)
    m = keras.Input((None,), dtype="bool", name="mask") if mask else None    # (N, T)
    states0 = [keras.Input((H,), dtype=dtype, name=f"{s}0{sfx}")             # (N, H) each
               for _, _, sfx in spec.suffixes() for s in names]
    options = dict(return_sequences=True, return_state=True, dtype=dtype)
    if spec.cell == "rnn":
        options["activation"] = nonlinearity
    if spec.cell == "gru":
        options["reset_after"] = True  # the canonical (PyTorch, cuDNN) GRU
    per_layer = len(names) * spec.directions  # initial states per layer
    y, states = x, []
    for layer in range(spec.num_layers):
        rnn = KERAS_LAYERS[spec.cell](spec.hidden_size, **options, name=f"l{layer}")
        if spec.bidirectional:
            rnn = keras.layers.Bidirectional(rnn, merge_mode="concat", name=f"l{layer}")
        y, *s = rnn(y, initial_state=states0[layer * per_layer:(layer + 1) * per_layer],
                    mask=m)                                                  # (N, T, H*dirs)
        states += s
    if mask:
        y = y * keras.ops.cast(keras.ops.expand_dims(m, -1), dtype)  # zero the padding
    return keras.Model([x, m, *states0] if mask else [x, *states0], [y, *states])


def keras_layers(model: keras.Model, spec: RNNSpec) -> list:
    """The SimpleRNN/LSTM/GRU layers of a :func:`build` model, one per layer and direction,
    in canonical order (the order of :func:`rnnkit.convert.to_keras`)."""
    out = []
    for layer in range(spec.num_layers):
        rnn = model.get_layer(f"l{layer}")
        out += [rnn.forward_layer, rnn.backward_layer] if spec.bidirectional else [rnn]
    return out


def _spec_of(model: keras.Model) -> RNNSpec:
    """Recover the RNNSpec of a :func:`build` model from its layers."""
    rnns = [layer for layer in model.layers if re.fullmatch(r"l\d+", layer.name)]
    first = rnns[0]
    bidirectional = isinstance(first, keras.layers.Bidirectional)
    inner = first.forward_layer if bidirectional else first
    cell = {cls: name for name, cls in KERAS_LAYERS.items()}[type(inner)]
    D = model.inputs[0].shape[-1]  # x: (N, T, D)
    return RNNSpec(cell, int(D), inner.units, len(rnns), bidirectional)


def set_weights(model: keras.Model, w: dict) -> None:
    """Load canonical weights ``w`` into a :func:`build` model (shapes must match)."""
    spec = _spec_of(model)
    for layer, arrays in zip(keras_layers(model, spec), to_keras(spec.cell, w)):
        layer.set_weights(arrays)


def build(cell: str, w: dict, nonlinearity: str = "tanh", mask: bool = False) -> keras.Model:
    """A ``keras.Model`` of real Keras RNN layers holding the canonical weights ``w``.

    Args:
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``; layers and directions are read off ``w``.
        nonlinearity: ``"tanh"`` or ``"relu"``, the SimpleRNN's activation.
        mask: whether the model takes a boolean (N, T) mask after ``x`` (module docstring).

    Returns:
        a model called as ``model([x, (mask,) h0_l0, (c0_l0,) ...])``, one (N, H) initial state
        per layer and direction (canonical order), returning ``[out, h_l0, (c_l0,) ...]``
        with out (N, T, H*directions).

    Example:
        >>> import numpy as np, rnnkit
        >>> w = rnnkit.init_weights("lstm", input_size=3, hidden_size=5, bidirectional=True)
        >>> model = build("lstm", w)
        >>> zeros = np.zeros((2, 5), np.float32)
        >>> out, *states = model([np.ones((2, 7, 3), np.float32)] + [zeros] * 4)
        >>> tuple(out.shape), len(states)
        ((2, 7, 10), 4)
    """
    spec = spec_from_weights(cell, w)
    dtype = np.asarray(w["W_ih_l0"]).dtype
    model = _make_model(spec, nonlinearity, mask, "float64" if dtype == np.float64 else "float32")
    set_weights(model, w)
    return model


def read_weights(model: keras.Model) -> dict[str, np.ndarray]:
    """Canonical weights of a :func:`build` model; a fused Keras bias comes back in ``b_ih``
    with ``b_hh = 0`` (see :func:`rnnkit.convert.from_keras`)."""
    spec = _spec_of(model)
    return from_keras(spec.cell, [layer.get_weights() for layer in keras_layers(model, spec)],
                      spec.bidirectional)


def run(cell: keras.layers.Layer, x, state0=None):
    """Loop a one-step cell over time with ``keras.layers.RNN``, the Keras way to do it.

    Args:
        cell: an :class:`~rnnkit.keras.rnn.RNNCell`, :class:`~rnnkit.keras.lstm.LSTMCell` or
            :class:`~rnnkit.keras.gru.GRUCell` (or Keras's own cells).
        x: (N, T, D) input, batch first.
        state0: initial state, h (N, H), or ``(h, c)`` for an LSTM; zeros if omitted.

    Returns:
        ``(out, state)`` as tensors: out (N, T, H) holds h at every step; state is the last
        step's, h or ``(h, c)``.

    Example:
        >>> from rnnkit.keras.lstm import LSTMCell
        >>> out, (h, c) = run(LSTMCell(input_size=3, hidden_size=5), np.zeros((2, 7, 3), "float32"))
        >>> tuple(out.shape), tuple(h.shape)
        ((2, 7, 5), (2, 5))
    """
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True,
                             dtype=cell.dtype_policy)  # float64 cells compute in float64
    initial_state = None if state0 is None else list(state0) if isinstance(state0, tuple) \
        else [state0]  # Keras takes the states as a list: [h] or [h, c]
    out, *state = layer(x, initial_state=initial_state)
    return out, tuple(state) if len(state) > 1 else state[0]


# ---------------------------------------------------------------- the backend contract


def _run_forward(runner: _Runner, x, m, states0):
    """``[out, *states]`` of the runner's model; ``m`` is ``[mask]`` or ``[]``."""
    return runner.model([x, *m, *states0])  # [out, *states]


def _run_gradients(runner: _Runner, x, m, states0, dout):
    """``[dx, dstates0, dvariables]``, the gradients of ``sum(out * dout)``."""
    with tf.GradientTape() as tape:
        tape.watch([x, *states0])
        out = runner.model([x, *m, *states0])[0]
        loss = tf.reduce_sum(out * dout)  # so d loss / d out = dout
    return tape.gradient(loss, [x, states0, runner.variables],
                         unconnected_gradients=tf.UnconnectedGradients.ZERO)


@dataclass
class _Runner:
    """The model of one configuration, run eagerly at first and as a ``tf.function`` once
    reused (after :data:`EAGER_CALLS` calls). Tracing costs about 1 s for the forward pass
    and 5 s for the gradients, against 0.1 to 0.5 s for one eager call of a small model, so it
    only pays off for repeated calls (training, benchmarks), where it is 3 to 4 times faster.
    The input signature leaves N and T open: each function is traced once, whatever the
    batch size and sequence length."""
    model: keras.Model
    variables: list                    # kernel, recurrent_kernel, bias, of each layer-direction
    signature: list                    # tf.TensorSpec of (x, [mask], states0, dout)
    calls: dict = field(default_factory=dict)
    traced: dict = field(default_factory=dict)

    def __call__(self, fn, *args):
        name = fn.__name__
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.calls[name] <= EAGER_CALLS:
            return fn(self, *args)
        if name not in self.traced:
            # A partial, not a closure: TF counts the traces of all closures of one function
            # together and would warn that many configurations are "retracing".
            self.traced[name] = tf.function(functools.partial(fn, self),
                                            input_signature=self.signature[:len(args)])
        return self.traced[name](*args)


_CACHE: dict[tuple, _Runner] = {}
EAGER_CALLS = 2
"""A configuration's first calls of :func:`forward` (and of :func:`gradients`) run eagerly;
later ones through a ``tf.function`` (see :class:`_Runner`); warm up with 3+ calls to time it."""


def _runner(spec: RNNSpec, nonlinearity: str, mask: bool, dtype: str) -> _Runner:
    """The cached :class:`_Runner` of a configuration; built on first use."""
    key = (spec, nonlinearity, mask, dtype)
    if key not in _CACHE:
        model = _make_model(spec, nonlinearity, mask, dtype)
        variables = [v for layer in keras_layers(model, spec)
                     for v in (layer.cell.kernel, layer.cell.recurrent_kernel, layer.cell.bias)]
        n_states = spec.num_layers * spec.directions * len(_state_names(spec.cell))
        signature = [tf.TensorSpec((None, None, spec.input_size), dtype),             # x
                     [tf.TensorSpec((None, None), tf.bool)] if mask else [],          # mask
                     [tf.TensorSpec((None, spec.hidden_size), dtype)] * n_states,     # states0
                     tf.TensorSpec((None, None, spec.hidden_size * spec.directions), dtype)]
        _CACHE[key] = _Runner(model, variables, signature)
    return _CACHE[key]


def _inputs(spec: RNNSpec, x: np.ndarray, w: dict, state0, lengths, nonlinearity: str):
    """Load ``w`` into the cached model; return it and its arguments ``(x, [mask], states0)``."""
    dtype = "float64" if x.dtype == np.float64 else "float32"
    runner = _runner(spec, nonlinearity, lengths is not None, dtype)
    set_weights(runner.model, w)  # the cached model's variables take this call's weights
    T = x.shape[1]
    m = [] if lengths is None else [tf.constant(np.arange(T)[None, :] < lengths[:, None])]
    # stacked (L*dirs, N, H) -> per layer and direction, h before c: [h0_l0, c0_l0, ...]
    stacked = state0 if spec.cell == "lstm" else (state0,)
    states0 = [tf.constant(s[i]) for i in range(spec.num_layers * spec.directions)
               for s in stacked]
    return runner, (tf.constant(x), m, states0)


def _stack(spec: RNNSpec, states: list):
    """``[h_l0, (c_l0,) ...]`` -> stacked (L*dirs, N, H) ``h`` (and ``c``)."""
    k = len(_state_names(spec.cell))
    stacked = tuple(np.stack([np.asarray(s) for s in states[j::k]]) for j in range(k))
    return stacked if spec.cell == "lstm" else stacked[0]


def forward(spec: RNNSpec, x, w, state0, lengths, nonlinearity):
    """Backend contract (:mod:`rnnkit.api`): ``(out, state)`` with stacked states."""
    runner, args = _inputs(spec, x, w, state0, lengths, nonlinearity)
    out, *states = runner(_run_forward, *args)
    return np.asarray(out), _stack(spec, states)


def gradients(spec: RNNSpec, x, w, dout, state0, lengths, nonlinearity) -> dict:
    """Backend contract: gradients of ``sum(out * dout)`` for every weight, ``x`` and ``h0``
    (and ``c0``), read back through :func:`rnnkit.convert.from_keras` with ``fused_bias=
    "both"``: the gradient of a fused Keras bias is the gradient of ``b_ih`` and of ``b_hh``."""
    runner, args = _inputs(spec, x, w, state0, lengths, nonlinearity)
    dx, dstates0, dvariables = runner(_run_gradients, *args, tf.constant(dout))
    dvariables = [np.asarray(v) for v in dvariables]
    grads = from_keras(spec.cell, [dvariables[i:i + 3] for i in range(0, len(dvariables), 3)],
                       spec.bidirectional, fused_bias="both")
    grads["x"] = np.asarray(dx)
    dstate = _stack(spec, dstates0)
    if spec.cell == "lstm":
        grads["h0"], grads["c0"] = dstate
    else:
        grads["h0"] = dstate
    return grads
