"""rnnkit.train: one fit API on three backends, checked against each other and against torch."""
import subprocess
import sys

import numpy as np
import pytest

from rnnkit import data, rel_error, train
from rnnkit.convert import to_keras

BACKENDS = ["numpy", "torch", "keras"]


def build(backend, *args, **kwargs):
    return getattr(train, f"{backend}_model")(*args, **kwargs)


def load(backend, model, params, cell):
    """Copy a NumpySequenceModel's params into a torch or keras model of the same shape."""
    if backend == "torch":
        import torch
        # The canonical layout is PyTorch's: only the names change.
        state = {"rnn.weight_ih_l0": params["W_ih_l0"], "rnn.weight_hh_l0": params["W_hh_l0"],
                 "rnn.bias_ih_l0": params["b_ih_l0"], "rnn.bias_hh_l0": params["b_hh_l0"],
                 "head.weight": params["W_out"], "head.bias": params["b_out"]}
        model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    elif backend == "keras":
        recurrent = {k: v for k, v in params.items() if k.endswith("_l0")}
        model.get_layer(cell).set_weights(to_keras(cell, recurrent)[0])
        model.get_layer("head").set_weights([params["W_out"].T, params["b_out"]])


def flat_params(backend, model):
    """Every trainable parameter of ``model`` in one float64 vector."""
    if backend == "numpy":
        arrays = model.params.values()
    elif backend == "torch":
        arrays = [p.detach().numpy() for p in model.parameters()]
    else:
        arrays = [np.asarray(v) for v in model.trainable_variables]
    return np.concatenate([np.ravel(a) for a in arrays]).astype(np.float64)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models: one thread beats two that wait on each other on a busy 2-core machine."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def sine():
    return data.noisy_sine(96, 12, seed=0), data.noisy_sine(32, 12, seed=1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_reduces_the_loss_and_fills_history(backend, sine):
    """A GRU learns next-step sine prediction in a few epochs; every History field is filled."""
    (x, y), validation = sine
    model = build(backend, "gru", 1, 8, 1, seed=0)
    h = train.fit(model, x, y, epochs=4, lr=2e-2, batch_size=32, clip_norm=5.0,
                  validation=validation, progress=False)
    print(backend, "losses", np.round(h.loss, 4), "val", np.round(h.val_loss, 4))
    assert h.backend == backend and h.clip_norm == 5.0
    assert len(h.loss) == len(h.val_loss) == len(h.seconds) == 4
    assert h.steps == len(h.grad_norm) == 4 * 3  # ceil(96 / 32) steps per epoch
    assert np.isfinite(h.grad_norm).all() and min(h.grad_norm) > 0 and min(h.seconds) > 0
    assert h.loss[-1] < 0.6 * h.loss[0] and h.val_loss[-1] < 0.6 * h.val_loss[0]
    assert train.evaluate(model, *validation) == pytest.approx(h.val_loss[-1], rel=1e-5)
    assert train.predict(model, validation[0]).shape == (32, 1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_clipping_is_applied_and_recorded(backend, sine):
    """With SGD and lr=1, one full-batch step moves the weights by exactly clip_norm."""
    (x, y), _ = sine
    model = build(backend, "lstm", 1, 6, 1, seed=1)
    before = flat_params(backend, model)
    h = train.fit(model, x, y, epochs=1, optimizer="sgd", lr=1.0, batch_size=len(x),
                  clip_norm=0.01, progress=False)
    moved = np.linalg.norm(flat_params(backend, model) - before)
    print(f"{backend}: norm before clipping {h.grad_norm[0]:.4f}, update {moved:.6f}")
    assert h.grad_norm[0] > 0.01 and h.clipped == 1.0
    assert moved == pytest.approx(0.01, rel=1e-3)


# Keras's SimpleRNN and LSTM fuse b_ih + b_hh into one bias: its gradient counts once in the
# global norm instead of twice, and SGD moves the sum half as far, so training can only match
# step for step where the parameters are the same, the GRU (reset_after=True keeps both).
@pytest.mark.parametrize("backend, cell, optimizer", [("torch", "lstm", "adam"),
                                                      ("torch", "rnn", "sgd"),
                                                      ("keras", "gru", "sgd")])
def test_numpy_training_matches_the_frameworks(backend, cell, optimizer, sine):
    """Same weights, same batches: the NumPy loop's losses and norms match torch's / keras's."""
    (x, y), _ = sine
    reference = train.NumpySequenceModel(cell, 1, 6, 1, seed=2)
    model = build(backend, cell, 1, 6, 1, seed=2)
    load(backend, model, reference.params, cell)
    kwargs = dict(epochs=2, optimizer=optimizer, lr=1e-2, batch_size=32, clip_norm=0.5,
                  progress=False, seed=4)
    ours, theirs = train.fit(reference, x, y, **kwargs), train.fit(model, x, y, **kwargs)
    errors = rel_error(ours.loss, theirs.loss), rel_error(ours.grad_norm, theirs.grad_norm)
    print(f"{cell}, numpy vs {backend} ({optimizer}): loss rel error {errors[0]:.2e}, "
          f"grad norm rel error {errors[1]:.2e} (bound 1e-5)")
    assert max(errors) < 1e-5


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_numpy_gradients_match_torch_autograd(cell):
    """NumpySequenceModel.backward against torch autograd, every-step CE head (copy task)."""
    import torch
    from rnnkit.train import numpy as train_numpy
    from rnnkit.train import torch as train_torch

    x, y = data.copy_memory(5, 3, n_symbols=4, length=2, seed=0)
    X = data.one_hot(x, 6)
    ours = train.NumpySequenceModel(cell, 6, 5, 6, seed=3, every_step=True)
    pred, cache = ours.forward(X)
    value, dpred = train_numpy.loss_and_grad(pred, y, "ce")
    grads = ours.backward(dpred, cache)
    theirs = train.torch_model(cell, 6, 5, 6, every_step=True)
    load("torch", theirs, ours.params, cell)
    loss = train_torch.loss_fn(theirs(torch.tensor(X)), torch.tensor(y), "ce")
    loss.backward()
    named = dict(theirs.named_parameters())
    assert value == pytest.approx(loss.item(), rel=1e-5)
    for name, torch_name in [("W_ih_l0", "rnn.weight_ih_l0"), ("W_hh_l0", "rnn.weight_hh_l0"),
                             ("b_hh_l0", "rnn.bias_hh_l0"), ("W_out", "head.weight"),
                             ("b_out", "head.bias")]:
        err = rel_error(grads[name], named[torch_name].grad.numpy())
        print(f"{cell} d{name}: rel error {err:.2e} (bound 1e-5)")
        assert err < 1e-5


def test_cross_entropy_on_copy_memory_goes_below_uniform():
    """loss="ce" with an every-step head (torch): better than guessing uniformly over 10."""
    x, y = data.copy_memory(256, 5, length=3, seed=0)
    model = train.torch_model("lstm", 10, 16, 10, every_step=True)
    h = train.fit(model, data.one_hot(x, 10), y, epochs=5, lr=1e-2, batch_size=32, loss="ce",
                  progress=False)
    assert h.loss[-1] < 0.6 * np.log(10) and h.loss[-1] < h.loss[0]


def test_progress_bar_on_off_and_environment(sine, capsys, monkeypatch):
    """progress=True draws a bar; False and RNNKIT_PROGRESS=0 (the book build) draw none."""
    (x, y), _ = sine
    model = train.NumpySequenceModel("rnn", 1, 4, 1)
    train.fit(model, x, y, epochs=1, progress=True)
    assert "epoch" in capsys.readouterr().err
    train.fit(model, x, y, epochs=1, progress=False)
    monkeypatch.setenv("RNNKIT_PROGRESS", "0")
    train.fit(model, x, y, epochs=1)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_errors_speak_to_the_learner(sine):
    (x, y), _ = sine
    model = train.NumpySequenceModel("lstm", 1, 4, 1, every_step=True)
    with pytest.raises(ValueError, match="every_step"):
        train.fit(model, x, y, progress=False)  # (N, T, 1) predictions vs (N, 1) targets
    with pytest.raises(ValueError, match="optimizer"):
        train.fit(model, x, y, optimizer="adagrad")
    with pytest.raises(TypeError, match="torch_model"):
        train.fit(object(), x, y)


def test_importing_rnnkit_train_imports_no_framework():
    """``import rnnkit.train`` (and data, plot) must not pull in torch or TensorFlow."""
    code = ("import sys, rnnkit, rnnkit.train, rnnkit.data, rnnkit.plot; "
            "print(sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
