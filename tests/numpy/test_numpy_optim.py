"""Gradient clipping and optimizers (rnnkit.numpy.optim), checked by hand and against torch."""
import numpy as np
import pytest

from rnnkit.checks import assert_close
from rnnkit.numpy.optim import SGD, Adam, clip_grad_norm, clip_grad_value


def flat(grads):
    return np.concatenate([g.ravel() for g in grads.values()])


def cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_clip_grad_norm_rescales_to_max_norm_and_keeps_the_direction():
    """A global norm of 13 clipped to 1: norm ~1, every array scaled by the same factor."""
    grads = {"a": np.array([3.0, 4.0]), "b": np.array([[12.0]])}  # global norm sqrt(169) = 13
    clipped, norm = clip_grad_norm(grads, 1.0)
    assert norm == 13.0
    assert_close(flat(clipped), flat(grads) / (13.0 + 1e-6), 1e-15, "clipped")  # torch's formula
    assert abs(np.linalg.norm(flat(clipped)) - 1.0) < 1e-6
    assert cosine(flat(clipped), flat(grads)) == pytest.approx(1.0, abs=1e-15)
    assert grads["a"].tolist() == [3.0, 4.0], "the input dict must be left unchanged"


def test_clip_grad_norm_leaves_small_gradients_alone():
    """Below max_norm the coefficient is clamped to exactly 1."""
    grads = {"a": np.array([0.3, -0.4], np.float32)}
    clipped, norm = clip_grad_norm(grads, 1.0)
    assert norm == pytest.approx(0.5)
    assert np.array_equal(clipped["a"], grads["a"]) and clipped["a"].dtype == np.float32


def test_clip_grad_value_clips_entries_and_can_turn_the_gradient():
    """Entry-wise clipping bounds every entry but, unlike norm clipping, changes direction."""
    grads = {"a": np.array([10.0, 0.5]), "b": np.array([-3.0])}
    clipped = clip_grad_value(grads, 1.0)
    assert clipped["a"].tolist() == [1.0, 0.5] and clipped["b"].tolist() == [-1.0]
    assert cosine(flat(clipped), flat(grads)) < 0.99


def test_sgd_without_momentum_is_p_minus_lr_g():
    """p <- p - lr * g, in place."""
    p = {"w": np.array([1.0, -2.0])}
    w = p["w"]
    SGD(lr=0.5).step(p, {"w": np.array([2.0, 4.0])})
    assert p["w"] is w and w.tolist() == [0.0, -4.0]


def test_sgd_momentum_by_hand():
    """v_1 = g, v_2 = m v_1 + g: with g = 1, m = 0.9, lr = 0.1 the steps are 0.1 then 0.19."""
    p, g = {"w": np.array([1.0])}, {"w": np.array([1.0])}
    opt = SGD(lr=0.1, momentum=0.9)
    opt.step(p, g)
    assert p["w"][0] == pytest.approx(0.9)
    opt.step(p, g)
    assert p["w"][0] == pytest.approx(0.9 - 0.19)


def test_adam_first_step_moves_each_entry_by_lr_against_its_gradient():
    """After bias correction m_1 / sqrt(v_1) = g / |g|: a step of ~lr whatever |g| is."""
    p = {"w": np.array([0.0, 0.0, 0.0]), "b": np.array([[1.0]])}
    g = {"w": np.array([1e3, -1e-2, 2.0]), "b": np.array([[-5.0]])}
    Adam(lr=0.01).step(p, g)
    assert_close(p["w"], -0.01 * np.sign(g["w"]), 1e-5, "w")
    assert p["b"][0, 0] == pytest.approx(1.01)


def test_adam_second_step_by_hand():
    """Two steps with g = 1 then g = 3, from the update equations in the docstring."""
    b1, b2, lr, eps = 0.9, 0.999, 0.1, 1e-8
    p = {"w": np.array([0.0])}
    opt = Adam(lr=lr, betas=(b1, b2), eps=eps)
    opt.step(p, {"w": np.array([1.0])})
    opt.step(p, {"w": np.array([3.0])})
    m = b1 * (1 - b1) * 1 + (1 - b1) * 3
    v = b2 * (1 - b2) * 1 + (1 - b2) * 9
    step2 = lr / (1 - b1 ** 2) * m / (np.sqrt(v) / np.sqrt(1 - b2 ** 2) + eps)
    assert p["w"][0] == pytest.approx(-lr - step2, rel=1e-6)


def test_adam_keeps_float32():
    """Parameters stay float32 (no float64 state sneaks into the update)."""
    p = {"w": np.ones(3, np.float32)}
    opt = Adam()
    for _ in range(3):
        opt.step(p, {"w": np.array([1.0, -2.0, 3.0], np.float32)})
    assert p["w"].dtype == np.float32 and opt.m["w"].dtype == np.float32


def test_matches_torch_optim_and_clip_grad_norm():
    """Five steps of clip_grad_norm + SGD(momentum) / Adam agree with torch's, in float64."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    init = {"W": rng.normal(size=(4, 3)), "b": rng.normal(size=4)}
    grads = [{k: 3 * rng.normal(size=v.shape) for k, v in init.items()} for _ in range(5)]
    for ours, theirs in [(SGD(0.1, momentum=0.9), lambda ps: torch.optim.SGD(ps, 0.1, 0.9)),
                         (Adam(0.01), lambda ps: torch.optim.Adam(ps, 0.01))]:
        params = {k: v.copy() for k, v in init.items()}
        tparams = {k: torch.tensor(v, requires_grad=True) for k, v in init.items()}
        topt = theirs(list(tparams.values()))
        for g in grads:
            clipped, norm = clip_grad_norm(g, 2.0)
            ours.step(params, clipped)
            for k, t in tparams.items():
                t.grad = torch.tensor(g[k])
            tnorm = torch.nn.utils.clip_grad_norm_(list(tparams.values()), 2.0)
            topt.step()
            assert norm == pytest.approx(float(tnorm), rel=1e-12)
        for k in init:
            name = f"{type(ours).__name__} {k}"
            assert_close(params[k], tparams[k].detach().numpy(), 1e-12, name)
