r"""Gradient clipping and optimizers with PyTorch's exact update rules.

Parameters and gradients are dicts of arrays with the same keys (the canonical weight dict
of :mod:`rnnkit.weights` and the dict :func:`rnnkit.gradients` returns; extra gradient keys
such as ``"x"`` are ignored by the optimizers). Optimizers update the arrays in place, like
``torch.optim``, so keep float32 parameters float32 and float64 ones float64.
"""
from __future__ import annotations

import math

import numpy as np


def clip_grad_norm(grads: dict, max_norm: float):
    r"""Scale all gradients together so that their global L2 norm is at most ``max_norm``.

    PyTorch's ``torch.nn.utils.clip_grad_norm_`` exactly::

        total_norm = sqrt(sum over arrays g of sum(g^2))
        coef = min(1, max_norm / (total_norm + 1e-6))
        g <- coef * g        for every g

    so gradients change only when ``total_norm > max_norm - 1e-6`` (the 1e-6 guards against
    dividing by zero), and all of them by the same factor: the direction of the full
    gradient is kept. A large norm usually means exploding gradients in an RNN.

    Args:
        grads: name -> gradient array.
        max_norm: largest allowed global norm.

    Returns:
        ``(clipped, total_norm)``: a new dict (``grads`` is left unchanged) and the global
        norm *before* clipping, a float.

    Example:
        >>> clipped, norm = clip_grad_norm({"a": np.array([3.0]), "b": np.array([4.0])}, 1.0)
        >>> norm, clipped["a"].round(4), clipped["b"].round(4)
        (5.0, array([0.6]), array([0.8]))
    """
    total_norm = float(np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in grads.values())))
    coef = min(1.0, max_norm / (total_norm + 1e-6))
    return {k: g * np.asarray(coef, g.dtype) for k, g in grads.items()}, total_norm


def clip_grad_value(grads: dict, clip_value: float) -> dict:
    """Clip every gradient entry to ``[-clip_value, clip_value]`` (``clip_grad_value_``).

    Entries are clipped independently, so unlike :func:`clip_grad_norm` this can change the
    gradient's direction.

    Returns:
        a new dict; ``grads`` is left unchanged.

    Example:
        >>> clip_grad_value({"a": np.array([3.0, -0.5])}, 1.0)["a"]
        array([ 1. , -0.5])
    """
    return {k: np.clip(g, -clip_value, clip_value) for k, g in grads.items()}


class SGD:
    r"""Stochastic gradient descent with momentum, as ``torch.optim.SGD`` (no dampening,
    no Nesterov, no weight decay).

    For each parameter p with gradient g, at step t = 1, 2, ...::

        v_1 = g,   v_t = momentum * v_{t-1} + g      (only when momentum > 0)
        p  <- p - lr * v_t                          (p - lr * g when momentum = 0)

    PyTorch's first step sets the velocity to g itself, not to (1 - momentum) g.

    Example:
        >>> p = {"w": np.array([1.0, 2.0])}
        >>> opt = SGD(lr=0.1, momentum=0.9)
        >>> opt.step(p, {"w": np.array([1.0, 1.0])}); opt.step(p, {"w": np.array([1.0, 1.0])})
        >>> p["w"]  # 1 - 0.1 * 1 - 0.1 * (0.9 + 1)
        array([0.71, 1.71])
    """

    def __init__(self, lr: float, momentum: float = 0.0):
        self.lr, self.momentum = lr, momentum
        self.velocity: dict[str, np.ndarray] = {}

    def step(self, params: dict, grads: dict) -> None:
        """Update every array of ``params`` in place from the same key of ``grads``."""
        for name, p in params.items():
            g = grads[name]
            if self.momentum:
                if name not in self.velocity:
                    self.velocity[name] = np.array(g, p.dtype)          # v_1 = g
                else:
                    v = self.velocity[name]
                    v *= self.momentum                                  # v = momentum v + g
                    v += g
                g = self.velocity[name]
            p -= self.lr * g


class Adam:
    r"""Adam (Kingma & Ba, 2015), as ``torch.optim.Adam`` (no weight decay, no AMSGrad).

    For each parameter p with gradient g, at step t = 1, 2, ..., from m_0 = v_0 = 0::

        m_t = beta1 * m_{t-1} + (1 - beta1) * g            first moment (mean)
        v_t = beta2 * v_{t-1} + (1 - beta2) * g^2          second moment (uncentered)
        p  <- p - lr / (1 - beta1^t) * m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)

    The divisions by ``1 - beta^t`` undo the bias of starting the averages at zero; PyTorch
    adds ``eps`` *after* correcting sqrt(v_t), as here. On the first step m_1 / sqrt(v_1)
    after correction is g / |g|, so every entry moves by about ``lr`` against its gradient.

    Example:
        >>> p = {"w": np.array([1.0, 1.0])}
        >>> Adam(lr=0.1).step(p, {"w": np.array([5.0, -0.01])})
        >>> p["w"].round(6)
        array([0.9, 1.1])
    """

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.lr, self.betas, self.eps = lr, betas, eps
        self.t = 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def step(self, params: dict, grads: dict) -> None:
        """Update every array of ``params`` in place from the same key of ``grads``."""
        beta1, beta2 = self.betas
        self.t += 1
        step_size = self.lr / (1 - beta1 ** self.t)
        sqrt_bias2 = math.sqrt(1 - beta2 ** self.t)       # a float: keeps float32 float32
        for name, p in params.items():
            g = grads[name]
            m = self.m.setdefault(name, np.zeros_like(p))
            v = self.v.setdefault(name, np.zeros_like(p))
            m *= beta1                                      # m = beta1 m + (1 - beta1) g
            m += (1 - beta1) * g
            v *= beta2                                      # v = beta2 v + (1 - beta2) g^2
            v += (1 - beta2) * g * g
            p -= step_size * m / (np.sqrt(v) / sqrt_bias2 + self.eps)
