"""Training a PyTorch sequence model: the loop of :mod:`rnnkit.train.numpy`, with autograd.

The model built here is ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (``batch_first=True``) and an
``nn.Linear`` head on the last step's output (or on every step); :func:`fit` accepts any
``torch.nn.Module`` mapping x (N, T, D) to pred (N, O) or (N, T, O). One step is
``zero_grad``, forward, loss, ``backward``, ``clip_grad_norm_`` (which returns the norm
before clipping) and ``optimizer.step()``. Imports torch.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..weights import check_cell
from .common import History, check_args, check_target, loop

MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class SequenceModel(nn.Module):
    """A recurrent layer plus a linear head: x (N, T, D) -> pred (N, O), or (N, T, O).

    Example:
        >>> model = SequenceModel("gru", input_size=2, hidden_size=8, output_size=1)
        >>> model(torch.zeros(4, 10, 2)).shape
        torch.Size([4, 1])
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, output_size: int,
                 every_step: bool = False):
        super().__init__()
        self.cell, self.every_step = check_cell(cell), every_step
        self.rnn = MODULES[cell](input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)          # (N, T, H); the final state, (1, N, H), is not needed
        return self.head(out if self.every_step else out[:, -1])  # (N, [T,] O)


def build(cell: str, input_size: int, hidden_size: int, output_size: int, seed: int = 0,
          every_step: bool = False) -> SequenceModel:
    """A :class:`SequenceModel` with PyTorch's default initialisation drawn from ``seed``.

    The global torch generator is left as it was (``fork_rng``), so building a model does not
    change what other code draws.

    Example:
        >>> a, b = build("lstm", 2, 8, 1, seed=3), build("lstm", 2, 8, 1, seed=3)
        >>> bool(torch.equal(a.rnn.weight_hh_l0, b.rnn.weight_hh_l0))
        True
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SequenceModel(cell, input_size, hidden_size, output_size, every_step)


def loss_fn(pred: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """Mean ``"mse"`` or ``"ce"`` (logits pred (..., C), classes y (...)) as in :mod:`rnnkit.train`."""
    check_target(pred.shape, y.shape, loss)
    if loss == "mse":
        return F.mse_loss(pred, y)
    return F.cross_entropy(pred.reshape(-1, pred.shape[-1]), y.reshape(-1))  # (N*T, C) vs (N*T,)


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def fit(model: nn.Module, x, y, epochs: int = 1, optimizer: str = "adam", lr: float = 1e-3,
        batch_size: int = 64, clip_norm: float | None = None, loss: str = "mse",
        validation=None, progress: bool | None = None, seed: int = 0) -> History:
    """Train ``model`` in place; arguments and result as :func:`rnnkit.train.fit`.

    Example:
        >>> from rnnkit.data import noisy_sine
        >>> x, y = noisy_sine(64, 20)
        >>> history = fit(build("rnn", 1, 8, 1), x, y, epochs=2, clip_norm=1.0, progress=False)
        >>> history.steps, history.backend
        (2, 'torch')
    """
    x, y = check_args(x, y, epochs, optimizer, loss, batch_size, clip_norm)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr) if optimizer == "adam" else torch.optim.SGD(params, lr)
    max_norm = float("inf") if clip_norm is None else clip_norm  # inf: measure, never clip
    device = _device(model)

    def step(xb, yb):
        xb, yb = torch.from_numpy(xb).to(device), torch.from_numpy(yb).to(device)
        opt.zero_grad(set_to_none=True)
        value = loss_fn(model(xb), yb, loss)
        value.backward()
        norm = nn.utils.clip_grad_norm_(params, max_norm)  # the norm before clipping
        opt.step()
        return value.item(), norm.item()

    model.train()
    history = History(clip_norm=clip_norm, backend="torch")
    desc = f"torch {getattr(model, 'cell', type(model).__name__)}"
    return loop(history, step, lambda xv, yv: evaluate(model, xv, yv, loss), x, y, epochs,
                batch_size, validation, progress, seed, desc)


@torch.no_grad()
def predict(model: nn.Module, x, batch_size: int = 1024) -> np.ndarray:
    """Predictions for x (N, T, D) in eval mode, ``batch_size`` rows at a time, as NumPy."""
    was_training, device = model.training, _device(model)
    model.eval()
    x = np.asarray(x, np.float32)
    try:
        return np.concatenate([model(torch.from_numpy(x[i:i + batch_size]).to(device)).cpu().numpy()
                               for i in range(0, len(x), batch_size)])
    finally:
        model.train(was_training)


def evaluate(model: nn.Module, x, y, loss: str = "mse", batch_size: int = 1024) -> float:
    """Mean ``loss`` over all of ``(x, y)``, without updating."""
    y = torch.from_numpy(np.asarray(y, np.int64 if loss == "ce" else np.float32))
    return loss_fn(torch.from_numpy(predict(model, x, batch_size)), y, loss).item()
