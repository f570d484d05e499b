"""The course's standard training figures: loss curves, gradient norms, gate heat maps.

Matplotlib is imported inside the functions, so this module costs nothing until it draws.
Each function draws into ``ax`` when given one (to compose figures) and otherwise makes its
own, and returns what it drew on: an Axes, or for :func:`gate_activations` the Figure.

Example:
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from rnnkit.train import History
    >>> ax = loss_curves({"lstm": History(loss=[0.3, 0.1, 0.02])}, baseline=1 / 6)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('epoch', 'loss')
"""
from __future__ import annotations

import numpy as np

GATE_NAMES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
"""Gate blocks in the canonical row order of :mod:`rnnkit.weights`."""


def _new_axes(ax, figsize=(6, 4)):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _as_dict(histories) -> dict:
    """One History (anything with ``.loss``) -> ``{"": history}``; a dict stays as it is."""
    return histories if isinstance(histories, dict) else {"": histories}


def loss_curves(histories, baseline: float | None = None, ax=None, log: bool = False,
                title: str = "Training loss"):
    """Training loss (solid) and validation loss (dashed, same colour) per epoch.

    Args:
        histories: ``{label: History}`` (or a single :class:`~rnnkit.train.History`).
        baseline: optional loss of a trivial predictor, drawn as a dotted line, e.g.
            :data:`rnnkit.data.ADDING_BASELINE_MSE`: a curve that stays on it learned nothing.
        ax: Axes to draw into; a new figure if ``None``.
        log: logarithmic loss axis (useful when a model gets orders of magnitude below
            the baseline).
        title: the Axes title.

    Returns:
        the matplotlib Axes.
    """
    ax = _new_axes(ax)
    for label, h in _as_dict(histories).items():
        epochs = np.arange(1, len(h.loss) + 1)
        (line,) = ax.plot(epochs, h.loss, label=f"{label} train".strip())
        if len(h.val_loss):
            ax.plot(np.arange(1, len(h.val_loss) + 1), h.val_loss, "--", color=line.get_color(),
                    label=f"{label} validation".strip())
    if baseline is not None:
        ax.axhline(baseline, color="0.4", linestyle=":", label=f"trivial baseline ({baseline:.3g})")
    if log:
        ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel="loss", title=title)
    ax.legend()
    return ax


def grad_norms(histories, ax=None, title: str = "Gradient norm per step (before clipping)"):
    """Global gradient norm at every optimizer step, on a log scale.

    Exploding gradients show up as spikes of several orders of magnitude, vanishing ones as a
    norm that decays towards 0. When the history was trained with ``clip_norm``, the
    threshold is drawn as a dotted line: steps above it were scaled down to it.

    Args:
        histories: a :class:`~rnnkit.train.History` or ``{label: History}``.
        ax: Axes to draw into; a new figure if ``None``.
        title: the Axes title.

    Returns:
        the matplotlib Axes.

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> from rnnkit.train import History
        >>> ax = grad_norms(History(grad_norm=[5.0, 2.0, 0.5], clip_norm=1.0))
        >>> ax.get_yscale(), ax.get_xlabel()
        ('log', 'optimizer step')
    """
    ax = _new_axes(ax)
    thresholds = set()
    for label, h in _as_dict(histories).items():
        steps = np.arange(1, len(h.grad_norm) + 1)
        ax.plot(steps, h.grad_norm, linewidth=0.8, label=label or None)
        if h.clip_norm is not None:
            thresholds.add(h.clip_norm)
    for clip in sorted(thresholds):
        ax.axhline(clip, color="0.3", linestyle=":", label=f"clip_norm = {clip:g}")
    ax.set_yscale("log")
    ax.set(xlabel="optimizer step", ylabel="global gradient norm", title=title)
    if ax.get_legend_handles_labels()[1]:
        ax.legend()
    return ax


def split_gates(cell: str, gates) -> dict[str, np.ndarray]:
    """Split one sequence's stacked gate activations (T, g*H) into ``{name: (T, H)}``.

    The blocks are in the canonical order i|f|g|o (LSTM) or r|z|n (GRU), as in the
    ``gates`` field of the NumPy caches (time major, (T, N, g*H): pass ``cache.gates[:, n]``
    for sequence n).

    Example:
        >>> sorted(split_gates("gru", np.zeros((7, 3 * 5))).items())[0][1].shape
        (7, 5)
    """
    if cell not in GATE_NAMES:
        raise ValueError(f"gates exist for 'lstm' and 'gru' only; received cell={cell!r}")
    names, gates = GATE_NAMES[cell], np.asarray(gates)
    if gates.ndim != 2 or gates.shape[1] % len(names):
        raise ValueError(f"expected one sequence's gates, (T, {len(names)}*H); received "
                         f"{gates.shape}. For a time-major cache (T, N, g*H) pass cache.gates[:, n].")
    return dict(zip(names, np.split(gates, len(names), axis=1)))


def gate_activations(gates: dict, axes=None, title: str = "Gate activations", cmap="viridis"):
    """Heat maps of gate activations over time, one panel per gate (e.g. i, f, o or r, z).

    Sigmoid gates (all values in [0, 1]) share the colour range [0, 1], so panels compare at
    a glance: a forget gate near 1 over a span of steps is the LSTM carrying its cell state.
    Gates with negative values (the tanh candidate g or n) use [-1, 1].

    Args:
        gates: ``{name: (T, H) array}`` for one sequence (see :func:`split_gates`).
        axes: a sequence of ``len(gates)`` Axes to draw into; a new figure if ``None``.
        title: the figure title.
        cmap: matplotlib colour map.

    Returns:
        the matplotlib Figure.

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> rng = np.random.default_rng(0)
        >>> fig = gate_activations({k: rng.uniform(size=(20, 8)) for k in "ifo"})
        >>> [ax.get_title() for ax in fig.axes[:3]], fig.axes[0].get_xlabel()
        (['i', 'f', 'o'], 'time step t')
    """
    if not gates:
        raise ValueError("gates is empty: expected {name: (T, H) array}")
    if axes is None:
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, len(gates), figsize=(3.2 * len(gates), 3.2),
                                 layout="constrained", squeeze=False)
        axes = axes[0]
    elif len(axes) != len(gates):
        raise ValueError(f"axes must hold one Axes per gate, {len(gates)}; received {len(axes)}")
    fig = axes[0].figure
    for ax, (name, a) in zip(axes, gates.items()):
        a = np.asarray(a)
        if a.ndim != 2:
            raise ValueError(f"gate {name!r} must be (T, H) for one sequence; received {a.shape}")
        vmin = 0.0 if a.min() >= 0 else -1.0
        image = ax.imshow(a.T, aspect="auto", origin="lower", cmap=cmap, vmin=vmin, vmax=1.0,
                          interpolation="nearest")  # rows: hidden units, columns: steps
        ax.set(xlabel="time step t", ylabel="hidden unit", title=name)
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.suptitle(title)
    return fig
