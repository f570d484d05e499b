"""Synthetic sequence tasks for the training demos: NumPy only, no downloads.

Every generator is deterministic given ``seed`` and returns batch-first arrays, ``(N, T, D)``
(N sequences, T time steps, D features per step), like the rest of rnnkit.

=================  ======================  ==================  ====================================
task               x                       y                   trivial baseline
=================  ======================  ==================  ====================================
adding_problem     (N, T, 2) float32       (N, 1) float32      MSE 1/6 (always predict 1)
copy_memory        (N, T_delay+2L) int64   (N, T_delay+2L)     CE L log(n_symbols) / (T_delay + 2L)
noisy_sine         (N, T, 1) float32       (N, horizon)        (none: a sanity-check task)
=================  ======================  ==================  ====================================

The adding and copy tasks are the standard long-memory benchmarks (Hochreiter & Schmidhuber
1997; Le, Jaitly & Hinton 2015; Arjovsky, Shah & Bengio 2016): a model that cannot carry
information across T steps gets stuck at the trivial baseline, which is why it is worth
knowing its value by heart.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

ADDING_BASELINE_MSE = 1 / 6
"""MSE of always predicting 1 on the adding problem: Var(u1 + u2) = 2 * 1/12 = 1/6."""


def adding_problem(n: int, T: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem: add the two marked numbers of a length-T sequence.

    Channel 0 holds numbers drawn from U[0, 1]; channel 1 is 1 at exactly two positions, one
    in the first half ``[0, T//2)`` and one in the second half ``[T//2, T)``, and 0 elsewhere.
    The target is the sum of the two marked numbers. Since each is U[0, 1], the target has
    mean 1 and variance 2/12, so predicting 1 every time scores MSE
    :data:`ADDING_BASELINE_MSE` = 1/6 ~ 0.167: a model has learned something only below that.

    Args:
        n: N, number of sequences.
        T: sequence length (at least 2).
        seed: seed of the NumPy generator.

    Returns:
        ``(x, y)``: x (N, T, 2) float32, y (N, 1) float32.

    Example:
        >>> x, y = adding_problem(4, 10)
        >>> x.shape, y.shape, x[:, :, 1].sum(axis=1).tolist()
        ((4, 10, 2), (4, 1), [2.0, 2.0, 2.0, 2.0])
    """
    if T < 2:
        raise ValueError(f"the adding problem needs T >= 2 (one marker per half); received T={T}")
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, size=(n, T))             # (N, T)
    half = T // 2
    first = rng.integers(0, half, size=n)                   # (N,) marker in [0, T//2)
    second = rng.integers(half, T, size=n)                  # (N,) marker in [T//2, T)
    rows = np.arange(n)
    markers = np.zeros((n, T))
    markers[rows, first] = markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=2).astype(np.float32)                # (N, T, 2)
    y = (values[rows, first] + values[rows, second])[:, None].astype(np.float32)  # (N, 1)
    return x, y


def copy_memory(n: int, T_delay: int, n_symbols: int = 8, length: int = 10,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The copy-memory task: remember ``length`` symbols across ``T_delay`` blank steps.

    Vocabulary of K = ``n_symbols + 2`` tokens: 0 is blank, ``1..n_symbols`` are symbols,
    ``n_symbols + 1`` is the delimiter ("start recalling"). A sequence has
    ``T_delay + 2*length`` steps::

        x: s_1 .. s_L | 0 .. 0 (T_delay - 1 steps) | delimiter | 0 .. 0 (L steps)
        y: 0  ..  0   | 0 .. 0                     | 0         | s_1 .. s_L

    Train with a cross-entropy over K classes at every step. A model that outputs blank until
    the delimiter and then guesses uniformly among the symbols scores
    :func:`copy_memory_baseline`; solving the task means going well below it.

    Args:
        n: N, number of sequences.
        T_delay: blank steps between the last symbol and the first recalled one (>= 1).
        n_symbols: number of distinct symbols.
        length: L, symbols to copy.
        seed: seed of the NumPy generator.

    Returns:
        ``(x, y)``: both (N, T_delay + 2L) int64 token ids in ``[0, n_symbols + 1]``; one-hot
        encode x with :func:`one_hot` to feed it to an RNN.

    Example:
        >>> x, y = copy_memory(3, T_delay=5, length=4)
        >>> x.shape, y.shape, bool((y[:, -4:] == x[:, :4]).all())
        ((3, 13), (3, 13), True)
    """
    if T_delay < 1:
        raise ValueError(f"T_delay must be at least 1 (the delimiter step); received {T_delay}")
    rng = np.random.default_rng(seed)
    T = T_delay + 2 * length
    symbols = rng.integers(1, n_symbols + 1, size=(n, length))  # (N, L)
    x = np.zeros((n, T), np.int64)
    y = np.zeros((n, T), np.int64)
    x[:, :length] = symbols
    x[:, length + T_delay - 1] = n_symbols + 1                  # delimiter
    y[:, -length:] = symbols
    return x, y


def copy_memory_baseline(T_delay: int, n_symbols: int = 8, length: int = 10) -> float:
    """Mean cross-entropy per step of the memoryless copy-memory strategy.

    Blank is predicted with certainty for the first ``T_delay + length`` steps (loss 0), then
    each of the last ``length`` steps costs ``log(n_symbols)``: averaged over all
    ``T_delay + 2*length`` steps, ``length * log(n_symbols) / (T_delay + 2*length)``.

    Example:
        >>> round(copy_memory_baseline(100), 4)
        0.1733
    """
    return length * float(np.log(n_symbols)) / (T_delay + 2 * length)


def one_hot(tokens, n_classes: int, dtype=np.float32) -> np.ndarray:
    """Integer ids of any shape (N, T) -> one-hot vectors (N, T, n_classes).

    Example:
        >>> one_hot(np.array([[0, 2]]), 3).tolist()
        [[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]]
    """
    tokens = np.asarray(tokens)
    if tokens.min(initial=0) < 0 or tokens.max(initial=0) >= n_classes:
        raise ValueError(f"token ids must lie in [0, {n_classes}); received values in "
                         f"[{tokens.min()}, {tokens.max()}]")
    return np.eye(n_classes, dtype=dtype)[tokens]


def noisy_sine(n: int, T: int, noise: float = 0.1, seed: int = 0,
               horizon: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Windows of sine waves with random phase and frequency, for next-step forecasting.

    Sequence k is ``sin(2 pi f_k t + phi_k)`` for t = 0, 1, ..., with f_k ~ U[0.02, 0.1]
    cycles per step (periods of 10 to 50 steps) and phi_k ~ U[0, 2 pi). The input is the
    first T values plus Gaussian noise of standard deviation ``noise``; the target is the
    next ``horizon`` values *without* noise, so the achievable MSE goes to 0.

    Args:
        n: N, number of windows.
        T: input length.
        noise: standard deviation of the noise added to the inputs.
        seed: seed of the NumPy generator.
        horizon: how many future steps to predict.

    Returns:
        ``(x, y)``: x (N, T, 1) float32, y (N, horizon) float32.

    Example:
        >>> x, y = noisy_sine(5, 30, horizon=3)
        >>> x.shape, y.shape
        ((5, 30, 1), (5, 3))
    """
    rng = np.random.default_rng(seed)
    f = rng.uniform(0.02, 0.1, size=(n, 1))                 # (N, 1) cycles per step
    phi = rng.uniform(0.0, 2 * np.pi, size=(n, 1))          # (N, 1)
    t = np.arange(T + horizon)[None, :]                     # (1, T + horizon)
    clean = np.sin(2 * np.pi * f * t + phi)                 # (N, T + horizon)
    x = clean[:, :T] + noise * rng.standard_normal((n, T))  # (N, T)
    return x[:, :, None].astype(np.float32), clean[:, T:].astype(np.float32)


def batches(x, y, batch_size: int, seed=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Iterate over ``(x_batch, y_batch)`` minibatches along the first (batch) axis.

    With ``seed=None`` the batches come in order; otherwise the rows are shuffled with
    ``np.random.default_rng(seed)`` (an int, or a list such as ``[seed, epoch]``). The last
    batch is smaller when N is not a multiple of ``batch_size``.

    Example:
        >>> x, y = adding_problem(10, 6)
        >>> [xb.shape for xb, yb in batches(x, y, batch_size=4, seed=0)]
        [(4, 6, 2), (4, 6, 2), (2, 6, 2)]
    """
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x and y need the same number of rows N; received {len(x)} and {len(y)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; received {batch_size}")
    order = np.arange(n) if seed is None else np.random.default_rng(seed).permutation(n)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        yield x[idx], y[idx]
