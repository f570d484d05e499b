r"""Training a from-scratch NumPy sequence model: every gradient by rnnkit's own backward pass.

The model is a recurrent layer (:mod:`rnnkit.numpy.layers`) and a linear head::

    out = RNN(x)                   (N, T, H)   x (N, T, D), zero initial state
    feats = out[:, -1]             (N, H)      or the whole of out with every_step=True
    pred = feats W_out^T + b_out   (N, O)      or (N, T, O)

and one training step is forward, loss, backward (head by hand, then
:func:`rnnkit.numpy.layers.backward`), :func:`rnnkit.numpy.optim.clip_grad_norm` and an
:mod:`rnnkit.numpy.optim` update, the same step ``torch`` and ``keras`` take in
:mod:`rnnkit.train.torch` and :mod:`rnnkit.train.keras`. Imports NumPy only.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..numpy import layers
from ..numpy.optim import SGD, Adam, clip_grad_norm
from ..weights import RNNSpec, check_cell, init_weights
from .common import History, check_args, check_target, loop


class ModelCache(NamedTuple):
    """What :meth:`NumpySequenceModel.backward` needs from :meth:`NumpySequenceModel.forward`."""

    feats: np.ndarray            # (N, H) last step, or (N, T, H) every step: the head's input
    T: int                       # sequence length, to place the last-step gradient
    layers: layers.LayersCache   # the recurrent layer's cache


class NumpySequenceModel:
    """A recurrent layer plus a linear head, forward and backward in NumPy.

    Args:
        cell: ``"rnn"`` (tanh), ``"lstm"`` or ``"gru"``.
        input_size: D.
        hidden_size: H.
        output_size: O, outputs per prediction (classes, for a cross-entropy loss).
        seed: seed of the initial weights: the recurrent ones as ``init_weights(...,
            scheme="torch")``, the head's ~ U(-1/sqrt(H), 1/sqrt(H)) like ``torch.nn.Linear``.
        every_step: predict at every step, (N, T, O), instead of from the last one, (N, O).

    Attributes:
        params: dict of float32 arrays: the canonical recurrent weights (:mod:`rnnkit.weights`)
            plus ``W_out`` (O, H) and ``b_out`` (O,). Optimizers update them in place.

    Example:
        >>> model = NumpySequenceModel("lstm", input_size=2, hidden_size=8, output_size=1)
        >>> pred, cache = model.forward(np.zeros((4, 10, 2), np.float32))
        >>> grads = model.backward(np.ones_like(pred), cache)
        >>> pred.shape, grads["W_hh_l0"].shape, grads["W_out"].shape
        ((4, 1), (32, 8), (1, 8))
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, output_size: int,
                 seed: int = 0, *, every_step: bool = False):
        self.cell, self.every_step = check_cell(cell), every_step
        self.spec = RNNSpec(cell, input_size, hidden_size)
        self.params = init_weights(cell, input_size, hidden_size, seed=seed)
        rng = np.random.default_rng([seed, 1])  # a stream of its own: the head
        k = 1 / np.sqrt(hidden_size)
        self.params["W_out"] = rng.uniform(-k, k, (output_size, hidden_size)).astype(np.float32)
        self.params["b_out"] = rng.uniform(-k, k, output_size).astype(np.float32)

    def __repr__(self) -> str:
        s = self.spec
        return (f"NumpySequenceModel({s.cell!r}, input_size={s.input_size}, hidden_size="
                f"{s.hidden_size}, output_size={len(self.params['b_out'])}, "
                f"every_step={self.every_step})")

    @property
    def num_params(self) -> int:
        return sum(p.size for p in self.params.values())

    def forward(self, x):
        """x (N, T, D) -> ``(pred, cache)``, pred (N, O), or (N, T, O) with every_step."""
        x = np.asarray(x, np.float32)
        N, T, H = x.shape[0], x.shape[1], self.spec.hidden_size
        h0 = np.zeros((1, N, H), np.float32)                 # (layers*dirs, N, H)
        state0 = (h0, h0) if self.cell == "lstm" else h0
        out, _, cache = layers.forward_with_cache(self.spec, x, self.params, state0)  # (N, T, H)
        feats = out if self.every_step else out[:, -1]       # (N, T, H) or (N, H)
        pred = feats @ self.params["W_out"].T + self.params["b_out"]  # (N, [T,] O)
        return pred, ModelCache(feats, T, cache)

    def __call__(self, x):
        return self.forward(x)[0]

    def backward(self, dpred, cache: ModelCache) -> dict:
        """Gradients of the loss for every key of :attr:`params`, from dpred = dL/dpred."""
        feats = cache.feats
        # through pred = feats W_out^T + b_out, summing over N (and T)
        dW_out = dpred.reshape(-1, dpred.shape[-1]).T @ feats.reshape(-1, feats.shape[-1])  # (O, H)
        db_out = dpred.reshape(-1, dpred.shape[-1]).sum(axis=0)                            # (O,)
        dfeats = dpred @ self.params["W_out"]                  # (N, [T,] H)
        # through feats = out[:, -1] (or out): only the last step receives a gradient
        if self.every_step:
            dout = dfeats                                      # (N, T, H)
        else:
            dout = np.zeros((len(feats), cache.T, feats.shape[-1]), np.float32)
            dout[:, -1] = dfeats                               # (N, T, H)
        grads = layers.backward(dout, cache.layers)            # through the recurrent layer
        grads = {k: v for k, v in grads.items() if k in self.params}  # drop x, h0, c0
        grads.update(W_out=dW_out, b_out=db_out)
        return grads


def build(cell: str, input_size: int, hidden_size: int, output_size: int, seed: int = 0,
          every_step: bool = False) -> NumpySequenceModel:
    """A :class:`NumpySequenceModel` (the same builder signature in every backend)."""
    return NumpySequenceModel(cell, input_size, hidden_size, output_size, seed,
                              every_step=every_step)


def loss_and_grad(pred, y, loss: str):
    """``(value, dpred)``: the mean loss and its gradient with respect to ``pred``.

    ``"mse"``: mean of (pred - y)^2, so dpred = 2 (pred - y) / pred.size.
    ``"ce"``: logits pred (..., C), integer classes y (...): mean of -log softmax(pred)[y]
    over the M = y.size positions, so dpred = (softmax(pred) - one_hot(y)) / M.

    Example:
        >>> value, dpred = loss_and_grad(np.zeros((2, 3)), np.array([0, 2]), "ce")
        >>> round(value, 4), dpred.shape  # log(3): uniform over 3 classes
        (1.0986, (2, 3))
    """
    check_target(pred.shape, y.shape, loss)
    if loss == "mse":
        diff = pred - y
        return float(np.mean(diff * diff)), 2 * diff / diff.size
    z = pred - pred.max(axis=-1, keepdims=True)                  # (..., C) shifted: exp stays finite
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))    # (..., C) log softmax
    target = np.eye(pred.shape[-1], dtype=pred.dtype)[y]         # (..., C) one_hot(y)
    value = -float(np.sum(log_p * target)) / y.size
    return value, (np.exp(log_p) - target) / y.size


def fit(model: NumpySequenceModel, x, y, epochs: int = 1, optimizer: str = "adam",
        lr: float = 1e-3, batch_size: int = 64, clip_norm: float | None = None,
        loss: str = "mse", validation=None, progress: bool | None = None,
        seed: int = 0) -> History:
    """Train ``model`` in place; arguments and result as :func:`rnnkit.train.fit`."""
    x, y = check_args(x, y, epochs, optimizer, loss, batch_size, clip_norm)
    opt = Adam(lr) if optimizer == "adam" else SGD(lr)
    max_norm = np.inf if clip_norm is None else clip_norm  # inf: measure the norm, never clip

    def step(xb, yb):
        pred, cache = model.forward(xb)
        value, dpred = loss_and_grad(pred, yb, loss)
        grads, norm = clip_grad_norm(model.backward(dpred, cache), max_norm)
        opt.step(model.params, grads)
        return value, norm

    history = History(clip_norm=clip_norm, backend="numpy")
    return loop(history, step, lambda xv, yv: evaluate(model, xv, yv, loss), x, y, epochs,
                batch_size, validation, progress, seed, desc=f"numpy {model.cell}")


def predict(model: NumpySequenceModel, x, batch_size: int = 1024) -> np.ndarray:
    """Predictions for x (N, T, D), computed ``batch_size`` rows at a time."""
    x = np.asarray(x, np.float32)
    return np.concatenate([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def evaluate(model: NumpySequenceModel, x, y, loss: str = "mse", batch_size: int = 1024) -> float:
    """Mean ``loss`` over all of ``(x, y)``; as in training, but without updating."""
    y = np.asarray(y, np.int64 if loss == "ce" else np.float32)
    return loss_and_grad(predict(model, x, batch_size), y, loss)[0]
