"""What every backend's training loop shares: the History record, argument checks, the
epoch loop with its progress bar. NumPy only; the backends supply one optimizer step.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from ..data import batches

LOSSES = ("mse", "ce")
OPTIMIZERS = ("adam", "sgd")


@dataclass
class History:
    """What :func:`rnnkit.train.fit` records, the same fields on every backend.

    Attributes:
        loss: mean training loss of each epoch (averaged over its steps, weighted by batch size).
        val_loss: loss on the validation set after each epoch; empty without one.
        grad_norm: global L2 norm of the gradient at every optimizer step, *before* clipping.
        seconds: wall-clock time of each epoch, validation included.
        clip_norm: the clipping threshold used, or ``None``.
        backend: ``"numpy"``, ``"torch"`` or ``"keras"``.

    Example:
        >>> h = History(loss=[0.5, 0.2], grad_norm=[3.0, 0.5, 2.0, 0.1], clip_norm=1.0)
        >>> h.steps, h.clipped
        (4, 0.5)
    """

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    clip_norm: float | None = None
    backend: str = ""

    @property
    def steps(self) -> int:
        """Optimizer steps taken so far."""
        return len(self.grad_norm)

    @property
    def clipped(self) -> float:
        """Fraction of steps whose gradient was clipped (norm above ``clip_norm``)."""
        if self.clip_norm is None or not self.grad_norm:
            return 0.0
        return float(np.mean(np.asarray(self.grad_norm) > self.clip_norm))

    def to_dict(self) -> dict:
        """Plain lists and numbers, ready for ``json.dump``."""
        return asdict(self)


def progress_enabled(progress: bool | None) -> bool:
    """Whether to show a progress bar: ``progress``, or if ``None``, unless RNNKIT_PROGRESS=0.

    Example:
        >>> import os
        >>> os.environ["RNNKIT_PROGRESS"] = "0"
        >>> progress_enabled(None), progress_enabled(True)
        (False, True)
        >>> del os.environ["RNNKIT_PROGRESS"]
    """
    if progress is None:
        return os.environ.get("RNNKIT_PROGRESS", "1").strip() != "0"
    return bool(progress)


def check_args(x, y, epochs: int, optimizer: str, loss: str, batch_size: int,
               clip_norm: float | None):
    """Validate :func:`rnnkit.train.fit`'s arguments; returns ``(x, y)`` as NumPy arrays.

    x becomes float32; y becomes float32 for ``"mse"`` and int64 class ids for ``"ce"``.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}; received {optimizer!r}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}; received {loss!r}")
    if int(epochs) != epochs or epochs < 1 or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive integers; received "
                         f"epochs={epochs!r}, batch_size={batch_size!r}")
    if clip_norm is not None and not clip_norm > 0:
        raise ValueError(f"clip_norm must be positive or None; received {clip_norm!r}")
    x, y = np.asarray(x, np.float32), np.asarray(y)
    if x.ndim != 3:
        raise ValueError(f"x must be batch-first (N, T, D); received shape {x.shape}")
    if len(y) != len(x):
        raise ValueError(f"x and y need the same N; received x {x.shape} and y {y.shape}")
    if loss == "ce":
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f'loss="ce" takes integer class ids y; received dtype {y.dtype}')
        return x, y.astype(np.int64)
    return x, y.astype(np.float32)


def check_target(pred_shape, y_shape, loss: str):
    """Raise a learner-readable error when pred and y do not fit together under ``loss``."""
    want = tuple(pred_shape) if loss == "mse" else tuple(pred_shape[:-1])
    if tuple(y_shape) != want:
        what = "the shape of pred" if loss == "mse" else "pred's shape without the class axis"
        raise ValueError(f'loss="{loss}" needs y of {what}, {want}; received y {tuple(y_shape)}. '
                         f"Check output_size and every_step (last step (N, O) or every step "
                         f"(N, T, O)).")


def loop(history: History, step: Callable, score: Callable, x, y, epochs: int,
         batch_size: int, validation, progress: bool | None, seed: int, desc: str) -> History:
    """The epoch loop behind every backend's ``fit``.

    Args:
        history: where to append the results.
        step: ``step(xb, yb) -> (loss, grad_norm)``: one optimizer step on a minibatch,
            returning the batch's mean loss and the gradient norm before clipping.
        score: ``score(x, y) -> loss``, the mean loss without training (for validation).
        x, y, epochs, batch_size, validation, progress, seed: as in :func:`rnnkit.train.fit`.
        desc: label of the progress bar.
    """
    from tqdm.auto import tqdm  # imported here: only fit needs it

    if validation is not None:
        x_val, y_val = validation
        x_val, y_val = np.asarray(x_val, np.float32), np.asarray(y_val, y.dtype)
    bar = tqdm(range(epochs), desc=desc, unit="epoch", disable=not progress_enabled(progress))
    for epoch in bar:
        start, total = time.perf_counter(), 0.0
        # The same shuffled order on every backend: a generator seeded by (seed, epoch).
        for xb, yb in batches(x, y, batch_size, seed=[seed, epoch]):
            batch_loss, norm = step(xb, yb)
            total += float(batch_loss) * len(xb)
            history.grad_norm.append(float(norm))
        history.loss.append(total / len(x))
        postfix = {"loss": f"{history.loss[-1]:.4g}"}
        if validation is not None:
            history.val_loss.append(float(score(x_val, y_val)))
            postfix["val_loss"] = f"{history.val_loss[-1]:.4g}"
        history.seconds.append(time.perf_counter() - start)
        bar.set_postfix(postfix)
    bar.close()
    return history
