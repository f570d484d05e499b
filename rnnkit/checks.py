"""Helpers that exercises and tests share: comparisons with messages written for a learner."""
from __future__ import annotations

import numpy as np


def rel_error(a, b) -> float:
    """Largest absolute difference, relative to the largest magnitude in either array.

    ``max|a - b| / max(max|a|, max|b|)`` (0 when both are all zero). Unlike an element-wise
    relative error it does not blow up on entries that are zero in one array and 1e-9 in
    the other, and unlike an absolute error it does not depend on the arrays' scale.

    Example:
        >>> rel_error([1.0, 2.0], [1.0, 2.002])
        0.000999...
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs equal shapes; received {a.shape} and {b.shape}")
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0))
    return 0.0 if scale == 0 else float(np.max(np.abs(a - b)) / scale)


def check_shape(value, shape, name: str = "result") -> None:
    """Raise an AssertionError naming ``name`` unless ``value`` has exactly ``shape``.

    Use ``None`` in ``shape`` for a dimension that may be anything.

    Example:
        >>> check_shape(np.zeros((2, 3)), (2, None), "h")
        >>> check_shape(np.zeros((3, 2)), (2, 3), "h")
        Traceback (most recent call last):
        ...
        AssertionError: h has shape (3, 2); expected (2, 3). Check which axis is time and which is batch.
    """
    got = np.shape(value)
    ok = len(got) == len(shape) and all(s is None or s == g for s, g in zip(shape, got))
    if not ok:
        hint = (" Check which axis is time and which is batch."
                if sorted(got) == sorted(s for s in shape if s is not None) else "")
        raise AssertionError(f"{name} has shape {tuple(got)}; expected {tuple(shape)}.{hint}")


def assert_close(actual, expected, rtol: float = 1e-5, name: str = "result") -> None:
    """Assert ``rel_error(actual, expected) <= rtol``, with a message that says by how much."""
    check_shape(actual, np.shape(expected), name)
    err = rel_error(actual, expected)
    if not err <= rtol:  # also catches NaN
        raise AssertionError(f"{name} differs from the expected values: relative error "
                             f"{err:.2e} > bound {rtol:.0e}")
