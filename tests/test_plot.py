"""rnnkit.plot: every figure has its data, axis labels and a title (Agg backend, no display)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rnnkit import data, plot  # noqa: E402
from rnnkit.numpy import lstm  # noqa: E402
from rnnkit.train import History  # noqa: E402

RNN = History(loss=[0.2, 0.18, 0.17], val_loss=[0.19, 0.18, 0.17], grad_norm=[5.0, 0.3, 1e-3],
              clip_norm=1.0, backend="torch")
LSTM = History(loss=[0.2, 0.05, 0.004], grad_norm=[2.0, 0.8, 0.5], clip_norm=1.0)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_loss_curves_draws_train_val_and_baseline():
    """Train (solid), validation (dashed), the baseline line, labels, title and legend."""
    ax = plot.loss_curves({"rnn": RNN, "lstm": LSTM}, baseline=data.ADDING_BASELINE_MSE)
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss" and ax.get_title()
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["rnn train", "rnn validation", "lstm train", "trivial baseline (0.167)"]
    np.testing.assert_array_equal(ax.get_lines()[2].get_ydata(), LSTM.loss)
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [1, 2, 3])
    assert ax.get_legend() is not None


def test_loss_curves_draws_into_a_given_axes_and_takes_one_history():
    _, (left, right) = plt.subplots(1, 2)
    assert plot.loss_curves(LSTM, ax=right, log=True) is right
    assert right.get_yscale() == "log" and not left.get_lines()
    assert [line.get_label() for line in right.get_lines()] == ["train"]


def test_grad_norms_log_scale_and_clip_threshold():
    """One line per history, log y, the clipping threshold drawn once."""
    ax = plot.grad_norms({"rnn": RNN, "lstm": LSTM})
    assert ax.get_yscale() == "log" and ax.get_title()
    assert ax.get_xlabel() == "optimizer step" and ax.get_ylabel() == "global gradient norm"
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["rnn", "lstm", "clip_norm = 1"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), RNN.grad_norm)


def test_gate_activations_from_a_real_lstm_cache():
    """Heat maps of i, f, o from rnnkit.numpy.lstm's cache: sigmoid gates share [0, 1]."""
    rng = np.random.default_rng(0)
    N, T, D, H = 2, 12, 3, 5
    s0 = np.zeros((N, H))
    *_, cache = lstm.forward(rng.normal(size=(N, T, D)), s0, s0, rng.normal(size=(4 * H, D)),
                             rng.normal(size=(4 * H, H)), np.zeros(4 * H), np.zeros(4 * H))
    gates = plot.split_gates("lstm", cache.gates[:, 1])  # sequence 1, (T, 4H)
    assert list(gates) == ["i", "f", "g", "o"] and gates["f"].shape == (T, H)
    fig = plot.gate_activations({k: gates[k] for k in "ifo"}, title="LSTM gates")
    panels = fig.axes[:3]
    assert [ax.get_title() for ax in panels] == ["i", "f", "o"]
    assert fig.get_suptitle() == "LSTM gates"
    for ax in panels:
        assert ax.get_xlabel() == "time step t" and ax.get_ylabel() == "hidden unit"
        image = ax.get_images()[0]
        assert image.get_array().shape == (H, T) and image.get_clim() == (0.0, 1.0)


def test_gate_activations_tanh_range_and_given_axes():
    _, axes = plt.subplots(1, 2)
    fig = plot.gate_activations({"z": np.full((4, 3), 0.5), "n": np.full((4, 3), -0.2)}, axes=axes)
    assert fig is axes[0].figure
    assert axes[1].get_images()[0].get_clim() == (-1.0, 1.0)
    with pytest.raises(ValueError, match="one Axes per gate"):
        plot.gate_activations({"r": np.zeros((4, 3))}, axes=axes)


def test_split_gates_rejects_a_whole_batch():
    with pytest.raises(ValueError, match=r"cache.gates\[:, n\]"):
        plot.split_gates("gru", np.zeros((7, 2, 15)))
    with pytest.raises(ValueError, match="lstm' and 'gru"):
        plot.split_gates("rnn", np.zeros((7, 5)))
