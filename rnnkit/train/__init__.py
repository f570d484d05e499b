"""Training loops with one API for NumPy, PyTorch and Keras models.

Modules, the same public names inside each backend module:

    common     :class:`History`, losses by name, minibatch order, progress bars (NumPy only)
    numpy      ``build``/``fit``/``predict``/``evaluate`` for :class:`NumpySequenceModel`,
               trained with rnnkit's hand-written backward pass and optimizers
    torch      the same four for a ``torch.nn.Module`` (imports torch)
    keras      the same four for a ``keras.Model`` (imports TensorFlow)

The functions here pick the backend from the type of ``model``; torch and TensorFlow are
imported only when such a model is passed or built, so ``import rnnkit.train`` stays cheap.
Every model maps a batch-first input x (N, T, D) to a prediction from the last step,
(N, O), or from every step, (N, T, O), with ``every_step=True``.

Losses, identical in every backend:

    ``"mse"``  mean of ``(pred - y)**2`` over every element; y shaped like pred.
    ``"ce"``   mean cross-entropy of the logits pred (..., C) against integer classes y (...),
               e.g. pred (N, T, C) and y (N, T) for the copy-memory task.

Each optimizer step clips the *global* gradient norm (all weights as one vector, PyTorch's
``clip_grad_norm_``) to ``clip_norm`` and records the norm before clipping.

Example:
    >>> from rnnkit import data, train
    >>> x, y = data.noisy_sine(64, 20)
    >>> model = train.NumpySequenceModel("gru", input_size=1, hidden_size=8, output_size=1)
    >>> history = train.fit(model, x, y, epochs=2, batch_size=32, progress=False)
    >>> len(history.loss), len(history.grad_norm)
    (2, 4)
"""
from __future__ import annotations

import importlib
import sys

from .common import History, progress_enabled
from .numpy import NumpySequenceModel

__all__ = ["History", "NumpySequenceModel", "evaluate", "fit", "keras_model", "numpy_model",
           "predict", "progress_enabled", "torch_model"]


def backend_of(model) -> str:
    """``"numpy"``, ``"torch"`` or ``"keras"``, from the type of ``model``.

    A model can only be a torch or Keras one if that framework is already imported, so
    looking in ``sys.modules`` never imports it.
    """
    if isinstance(model, NumpySequenceModel):
        return "numpy"
    if "torch" in sys.modules and isinstance(model, sys.modules["torch"].nn.Module):
        return "torch"
    if "keras" in sys.modules and isinstance(model, sys.modules["keras"].Model):
        return "keras"
    raise TypeError(f"fit expects a rnnkit.train.NumpySequenceModel, a torch.nn.Module or a "
                    f"keras.Model; received {type(model).__module__}.{type(model).__name__}. "
                    f"Build one with numpy_model, torch_model or keras_model.")


def _module(backend: str):
    return importlib.import_module(f"rnnkit.train.{backend}")


def fit(model, x, y, epochs: int = 1, optimizer: str = "adam", lr: float = 1e-3,
        batch_size: int = 64, clip_norm: float | None = None, loss: str = "mse",
        validation: tuple | None = None, progress: bool | None = None,
        seed: int = 0) -> History:
    """Train ``model`` in place with minibatch gradient descent; the same loop on every backend.

    Args:
        model: a :class:`NumpySequenceModel`, ``torch.nn.Module`` or ``keras.Model`` mapping
            x (N, T, D) to pred (N, O), or (N, T, O).
        x: (N, T, D) float inputs (NumPy arrays on every backend).
        y: targets: float, shaped like pred, for ``"mse"``; integer classes, pred's shape
            without its last axis, for ``"ce"``.
        epochs: passes over the data.
        optimizer: ``"adam"`` or ``"sgd"`` (plain, no momentum): the framework's own;
            NumPy's (:mod:`rnnkit.numpy.optim`) follow PyTorch's update rules exactly, Keras's
            Adam (epsilon 1e-8 here, as PyTorch's) adds epsilon before the bias correction.
        lr: learning rate.
        batch_size: rows per step; batches are reshuffled every epoch from ``seed``.
        clip_norm: clip the global gradient norm to this value; ``None`` never clips.
        loss: ``"mse"`` or ``"ce"`` (module docstring).
        validation: optional ``(x_val, y_val)``, scored after every epoch.
        progress: tqdm bar over epochs; ``None`` means on unless the environment variable
            ``RNNKIT_PROGRESS=0`` (the book build sets it); ``False`` off.
        seed: seed of the batch order (the same order on every backend).

    Returns:
        :class:`History` of per-epoch losses, per-step gradient norms and epoch times.
    """
    backend = backend_of(model)
    return _module(backend).fit(model, x, y, epochs=epochs, optimizer=optimizer, lr=lr,
                                batch_size=batch_size, clip_norm=clip_norm, loss=loss,
                                validation=validation, progress=progress, seed=seed)


def predict(model, x, batch_size: int = 1024):
    """``model``'s predictions on x (N, T, D) as a NumPy array, (N, O) or (N, T, O)."""
    return _module(backend_of(model)).predict(model, x, batch_size=batch_size)


def evaluate(model, x, y, loss: str = "mse", batch_size: int = 1024) -> float:
    """Mean ``loss`` of ``model`` over the whole of ``(x, y)``, as a Python float."""
    return _module(backend_of(model)).evaluate(model, x, y, loss=loss, batch_size=batch_size)


def numpy_model(cell: str, input_size: int, hidden_size: int, output_size: int,
                seed: int = 0, every_step: bool = False) -> NumpySequenceModel:
    """A :class:`NumpySequenceModel`: recurrent layer + linear head (rnnkit.train.numpy)."""
    return _module("numpy").build(cell, input_size, hidden_size, output_size, seed, every_step)


def torch_model(cell: str, input_size: int, hidden_size: int, output_size: int,
                seed: int = 0, every_step: bool = False):
    """A ``torch.nn.Module``: ``nn.RNN/LSTM/GRU(batch_first=True)`` + ``nn.Linear`` head."""
    return _module("torch").build(cell, input_size, hidden_size, output_size, seed, every_step)


def keras_model(cell: str, input_size: int, hidden_size: int, output_size: int,
                seed: int = 0, every_step: bool = False):
    """A ``keras.Model``: ``SimpleRNN/LSTM/GRU`` + ``Dense`` head, from ``keras.Input``."""
    return _module("keras").build(cell, input_size, hidden_size, output_size, seed, every_step)
