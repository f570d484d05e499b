"""rnnkit.data: shapes, determinism, and the trivial baselines the chapters quote."""
import numpy as np
import pytest

from rnnkit import data


def test_adding_problem_shapes_and_markers():
    """Two markers per sequence, one in each half; the target is the sum of the marked values."""
    x, y = data.adding_problem(500, 31, seed=3)
    assert x.shape == (500, 31, 2) and x.dtype == np.float32
    assert y.shape == (500, 1) and y.dtype == np.float32
    markers = x[:, :, 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert (markers[:, :15].sum(axis=1) == 1).all() and (markers[:, 15:].sum(axis=1) == 1).all()
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * markers).sum(axis=1), rtol=1e-6)
    assert 0 <= x[:, :, 0].min() and x[:, :, 0].max() <= 1


def test_adding_problem_is_deterministic():
    """The same seed gives the same data; another seed gives other data."""
    a, b, c = (data.adding_problem(20, 10, seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_adding_baseline_mse_is_one_sixth():
    """Predicting 1 scores MSE 1/6 (statistical: 100k sequences, standard error ~6e-4)."""
    _, y = data.adding_problem(100_000, 10, seed=0)
    mse = float(np.mean((y - 1.0) ** 2))
    print(f"trivial predictor MSE {mse:.5f} vs ADDING_BASELINE_MSE {data.ADDING_BASELINE_MSE:.5f}")
    assert data.ADDING_BASELINE_MSE == pytest.approx(1 / 6)
    assert mse == pytest.approx(data.ADDING_BASELINE_MSE, abs=3e-3)
    assert float(y.mean()) == pytest.approx(1.0, abs=1e-2)  # 1 is the best constant


def test_adding_problem_needs_two_steps():
    with pytest.raises(ValueError, match="T >= 2"):
        data.adding_problem(4, 1)


def test_copy_memory_layout():
    """Symbols, blanks, the delimiter, then the target repeats the symbols at the end."""
    n_symbols, length, T_delay = 8, 10, 30
    x, y = data.copy_memory(64, T_delay, n_symbols=n_symbols, length=length, seed=1)
    T = T_delay + 2 * length
    assert x.shape == y.shape == (64, T) and x.dtype == y.dtype == np.int64
    assert ((1 <= x[:, :length]) & (x[:, :length] <= n_symbols)).all()
    delimiter = length + T_delay - 1
    assert (x[:, delimiter] == n_symbols + 1).all()
    others = np.delete(x, list(range(length)) + [delimiter], axis=1)
    assert (others == 0).all()
    np.testing.assert_array_equal(y[:, -length:], x[:, :length])
    assert (y[:, :-length] == 0).all()


def test_copy_memory_baseline_is_the_memoryless_cross_entropy():
    """Blank with certainty, then uniform over the symbols, scores the helper's value."""
    n_symbols, length, T_delay = 8, 10, 50
    x, y = data.copy_memory(32, T_delay, n_symbols=n_symbols, length=length)
    K, T = n_symbols + 2, x.shape[1]
    probs = np.zeros((32, T, K))
    probs[:, :-length, 0] = 1.0
    probs[:, -length:, 1:n_symbols + 1] = 1.0 / n_symbols
    picked = np.take_along_axis(probs, y[..., None], axis=-1)
    ce = float(-np.log(picked).mean())
    assert ce == pytest.approx(data.copy_memory_baseline(T_delay, n_symbols, length))
    assert ce == pytest.approx(length * np.log(n_symbols) / (T_delay + 2 * length))


def test_one_hot_round_trip_and_range_check():
    x, _ = data.copy_memory(4, 5, length=3)
    encoded = data.one_hot(x, 10)
    assert encoded.shape == (4, 11, 10)
    np.testing.assert_array_equal(encoded.argmax(axis=-1), x)
    with pytest.raises(ValueError, match=r"\[0, 9\)"):
        data.one_hot(x, 9)


def test_noisy_sine_targets_continue_the_wave():
    """Without noise, y continues x: s[t+1] + s[t-1] = 2 cos(w) s[t] for each sequence."""
    x, y = data.noisy_sine(50, 40, noise=0.0, seed=2, horizon=3)
    assert x.shape == (50, 40, 1) and y.shape == (50, 3)
    s = np.concatenate([x[:, :, 0], y], axis=1).astype(np.float64)  # (N, T + horizon)
    mid, ends = s[:, 1:-1], s[:, 2:] + s[:, :-2]
    two_cos = (mid * ends).sum(axis=1) / (mid * mid).sum(axis=1)     # least squares, (N,)
    np.testing.assert_allclose(ends, two_cos[:, None] * mid, atol=1e-5)


def test_noisy_sine_noise_level_and_determinism():
    """The seed fixes phase and frequency; ``noise`` is the standard deviation added to x."""
    clean, y0 = data.noisy_sine(400, 50, noise=0.0, seed=5)
    noisy, y1 = data.noisy_sine(400, 50, noise=0.1, seed=5)
    np.testing.assert_array_equal(y0, y1)  # targets are noise-free
    assert float((noisy - clean).std()) == pytest.approx(0.1, rel=0.05)
    np.testing.assert_array_equal(noisy, data.noisy_sine(400, 50, noise=0.1, seed=5)[0])


@pytest.mark.parametrize("seed", [None, 7])
def test_batches_cover_every_row_once(seed):
    x = np.arange(10)[:, None, None].astype(np.float32)  # (10, 1, 1): row i holds i
    y = np.arange(10)
    out = list(data.batches(x, y, batch_size=4, seed=seed))
    assert [len(yb) for _, yb in out] == [4, 4, 2]
    order = np.concatenate([yb for _, yb in out])
    assert sorted(order) == list(range(10))
    for xb, yb in out:
        np.testing.assert_array_equal(xb[:, 0, 0], yb)  # rows stay paired
    if seed is None:
        assert order.tolist() == list(range(10))
    else:
        again = np.concatenate([yb for _, yb in data.batches(x, y, 4, seed=seed)])
        np.testing.assert_array_equal(order, again)


def test_batches_rejects_mismatched_rows():
    with pytest.raises(ValueError, match="same number of rows"):
        next(data.batches(np.zeros((3, 2, 1)), np.zeros(4), 2))
