"""GRU-only checks (rnnkit.numpy.gru); the checks every cell shares are in test_numpy_cells.py."""
import numpy as np

from rnnkit.checks import assert_close
from rnnkit.numpy import gru


def weights(rng, D, H):
    """W_ih, W_hh, b_ih, b_hh, float64, rows r|z|n."""
    return [rng.normal(size=s) for s in [(3 * H, D), (3 * H, H), (3 * H,), (3 * H,)]]


def test_reset_gate_multiplies_the_recurrent_term_after_the_matmul():
    """n = tanh(W_in x + b_in + r * (W_hn h' + b_hn)), PyTorch's form, written out by hand."""
    rng = np.random.default_rng(3)
    N, D, H = 2, 3, 4
    x, h_prev = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    W_ih, W_hh, b_ih, b_hh = weights(rng, D, H)
    s = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    block = lambda a, k: a[..., k * H:(k + 1) * H]  # noqa: E731
    ax, ah = x @ W_ih.T + b_ih, h_prev @ W_hh.T + b_hh
    r, z = s(block(ax, 0) + block(ah, 0)), s(block(ax, 1) + block(ah, 1))
    n = np.tanh(block(ax, 2) + r * block(ah, 2))
    h, _ = gru.step_forward(x, h_prev, W_ih, W_hh, b_ih, b_hh)
    assert_close(h, (1 - z) * n + z * h_prev, 1e-14, "h")
