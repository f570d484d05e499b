"""Training a Keras 3 sequence model: the loop of :mod:`rnnkit.train.numpy`, with a GradientTape.

The model built here is ``keras.Input`` -> ``SimpleRNN``/``LSTM``/``GRU`` -> ``Dense`` head on
the last step (or, with ``return_sequences=True``, on every step); :func:`fit` accepts any
``keras.Model`` mapping x (N, T, D) to pred (N, O) or (N, T, O).

Why a custom loop rather than ``model.fit``: the same step as the NumPy and PyTorch loops, and
the gradient norm of every step. Keras's ``clipnorm=`` option clips each weight's gradient
*separately*; PyTorch's ``clip_grad_norm_`` (and this loop) clips the global norm of all of
them together, what Keras calls ``global_clipnorm``.

Keras's ``SimpleRNN`` and ``LSTM`` keep one bias where PyTorch keeps two, ``b_ih + b_hh``
(:mod:`rnnkit.weights`). The same function, differently parameterised: its gradient enters
the global norm once instead of twice, and an SGD step moves the sum half as far. So a
Keras LSTM trains step for step like the PyTorch one only up to that; the GRU
(``reset_after=True`` keeps both biases) matches exactly. Imports TensorFlow.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ..weights import check_cell  # noqa: E402
from .common import History, check_args, check_target, loop  # noqa: E402

LAYERS = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


def build(cell: str, input_size: int, hidden_size: int, output_size: int, seed: int = 0,
          every_step: bool = False) -> keras.Model:
    """A functional ``keras.Model`` with Keras's default initialisers, seeded by ``seed``.

    Example:
        >>> model = build("lstm", input_size=2, hidden_size=8, output_size=1)
        >>> model(np.zeros((4, 10, 2), np.float32)).shape
        TensorShape([4, 1])
    """
    check_cell(cell)
    x = keras.Input((None, input_size), name="x")      # (N, T, D): any T
    out = LAYERS[cell](hidden_size, return_sequences=every_step, name=cell,
                       kernel_initializer=keras.initializers.GlorotUniform(seed),
                       recurrent_initializer=keras.initializers.Orthogonal(seed=seed + 1))(x)
    pred = keras.layers.Dense(output_size, name="head",
                              kernel_initializer=keras.initializers.GlorotUniform(seed + 2))(out)
    return keras.Model(x, pred, name=f"{cell}_sequence_model")  # (N, [T,] O)


def loss_fn(pred, y, loss: str):
    """Mean ``"mse"`` or ``"ce"`` (logits pred (..., C), classes y (...)) as in :mod:`rnnkit.train`."""
    if loss == "mse":
        return tf.reduce_mean(tf.square(pred - y))
    return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, pred, from_logits=True))


def fit(model: keras.Model, x, y, epochs: int = 1, optimizer: str = "adam", lr: float = 1e-3,
        batch_size: int = 64, clip_norm: float | None = None, loss: str = "mse",
        validation=None, progress: bool | None = None, seed: int = 0) -> History:
    """Train ``model`` in place; arguments and result as :func:`rnnkit.train.fit`.

    Example:
        >>> from rnnkit.data import noisy_sine
        >>> x, y = noisy_sine(64, 20)
        >>> history = fit(build("gru", 1, 8, 1), x, y, epochs=2, clip_norm=1.0, progress=False)
        >>> history.steps, history.backend
        (2, 'keras')
    """
    x, y = check_args(x, y, epochs, optimizer, loss, batch_size, clip_norm)
    # epsilon=1e-8 as PyTorch's Adam (Keras's default is 1e-7)
    opt = (keras.optimizers.Adam(lr, epsilon=1e-8) if optimizer == "adam"
           else keras.optimizers.SGD(lr))
    variables = model.trainable_variables
    opt.build(variables)  # create the moment slots now, not inside the traced step

    # One trace for every batch size and length: batch and time axes left free.
    x_spec = tf.TensorSpec((None, None, x.shape[2]), tf.float32)
    y_spec = tf.TensorSpec((None,) + y.shape[1:], tf.as_dtype(y.dtype))

    @tf.function(input_signature=[x_spec, y_spec])
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            value = loss_fn(model(xb, training=True), yb, loss)
        grads = tape.gradient(value, variables)
        norm = tf.linalg.global_norm(grads)                  # before clipping
        if clip_norm is not None:
            grads, _ = tf.clip_by_global_norm(grads, clip_norm, use_norm=norm)
        opt.apply_gradients(zip(grads, variables))
        return value, norm

    def step(xb, yb):
        value, norm = train_step(xb, yb)
        return float(value), float(norm)

    check_target(predict(model, x[:1]).shape, y[:1].shape, loss)  # a clear error before tracing
    history = History(clip_norm=clip_norm, backend="keras")
    return loop(history, step, lambda xv, yv: evaluate(model, xv, yv, loss), x, y, epochs,
                batch_size, validation, progress, seed, desc=f"keras {model.name}")


def predict(model: keras.Model, x, batch_size: int = 1024) -> np.ndarray:
    """Predictions for x (N, T, D), ``batch_size`` rows at a time, as NumPy.

    Calls the model directly: ``model.predict`` would print a progress bar of its own.
    """
    x = np.asarray(x, np.float32)
    return np.concatenate([np.asarray(model(x[i:i + batch_size], training=False))
                           for i in range(0, len(x), batch_size)])


def evaluate(model: keras.Model, x, y, loss: str = "mse", batch_size: int = 1024) -> float:
    """Mean ``loss`` over all of ``(x, y)``, without updating."""
    pred = predict(model, x, batch_size)
    y = np.asarray(y, np.int64 if loss == "ce" else np.float32)
    check_target(pred.shape, y.shape, loss)
    return float(loss_fn(tf.constant(pred), tf.constant(y), loss))
