"""LSTM-only checks (rnnkit.numpy.lstm); the checks every cell shares are in test_numpy_cells.py."""
import numpy as np

from rnnkit.checks import assert_close
from rnnkit.numpy import lstm


def test_sigmoid_is_the_logistic_function_without_overflow_errors():
    """sigmoid(x) = 1 / (1 + exp(-x)), and gives exactly 0 and 1 at -+1000 without raising."""
    x = np.linspace(-30, 30, 61)
    assert_close(lstm.sigmoid(x), 1 / (1 + np.exp(-x)), 1e-15, "sigmoid")
    with np.errstate(all="raise"):
        assert lstm.sigmoid(np.array([-1000.0, 1000.0])).tolist() == [0.0, 1.0]
