"""PyTorch backend: the real ``torch.nn.RNN`` / ``LSTM`` / ``GRU`` loaded with canonical weights.

:func:`forward` and :func:`gradients` are the backend contract of :mod:`rnnkit.api`: NumPy in,
NumPy out, states stacked as ``(layers*directions, N, H)``. :func:`build` and
:func:`read_weights` move weights between the canonical dict and a module; :func:`run` loops
one of the hand-written cells (:mod:`.rnn`, :mod:`.lstm`, :mod:`.gru`) over time.

Where PyTorch differs from rnnkit's conventions:

* ``batch_first=True`` makes ``x`` and ``out`` ``(N, T, ...)`` like rnnkit, but it does NOT
  apply to the states: ``h_0`` and ``h_n`` (and ``c_0``, ``c_n``) are always
  ``(layers*directions, N, H)``, layer-major with the forward direction first.
* Variable lengths go through a ``PackedSequence``. Packing, not masking, is what makes the
  reverse direction start at each sequence's own last valid step; running the reverse
  direction over zero-padded input would start it on the padding instead.
"""
from __future__ import annotations


import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..convert import from_torch_state_dict, to_torch_state_dict
from ..weights import RNNSpec, spec_from_weights
from .gru import GRUCell
from .lstm import LSTMCell
from .rnn import RNNCell

# No TF32 on a GPU: its 10-bit mantissa would swamp a 1e-5 comparison with the other
# backends. (The CPU kernels used here are deterministic already; switching on
# torch.use_deterministic_algorithms would cost ~4 s at import, as it loads torch._inductor.)
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False

MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
CELLS = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}


def _dtype_of(w: dict) -> torch.dtype:
    """float64 weights stay float64; everything else runs in float32."""
    return torch.float64 if np.asarray(w["W_ih_l0"]).dtype == np.float64 else torch.float32


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def build(cell: str, w: dict, nonlinearity: str = "tanh", device="cpu") -> nn.RNNBase:
    """A ``torch.nn.RNN``, ``LSTM`` or ``GRU`` (``batch_first=True``) holding the weights ``w``.

    Layers and directions are read off the keys of ``w``; the dtype is float64 if ``w`` is,
    else float32. The weights are loaded with ``load_state_dict(strict=True)``, so a missing
    or extra tensor is an error, not a silently random weight.

    Args:
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        w: canonical weights (:mod:`rnnkit.weights`).
        nonlinearity: ``"tanh"`` or ``"relu"``, ``cell="rnn"`` only.
        device: where the module lives, ``"cpu"`` unless asked otherwise.

    Example:
        >>> from rnnkit.weights import init_weights
        >>> lstm = build("lstm", init_weights("lstm", 3, 5, num_layers=2, bidirectional=True))
        >>> out, (h_n, c_n) = lstm(torch.zeros(2, 7, 3))  # x (N, T, D)
        >>> out.shape, h_n.shape  # h_n is (layers*directions, N, H) despite batch_first
        (torch.Size([2, 7, 10]), torch.Size([4, 2, 5]))
    """
    spec = spec_from_weights(cell, w)
    if nonlinearity != "tanh" and cell != "rnn":
        raise ValueError(f"nonlinearity applies to cell='rnn' only; received cell={cell!r}")
    dtype = _dtype_of(w)
    extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    module = MODULES[cell](spec.input_size, spec.hidden_size, spec.num_layers,
                           batch_first=True, bidirectional=spec.bidirectional,
                           dtype=dtype, device=device, **extra)
    state_dict = {k: torch.as_tensor(v, dtype=dtype) for k, v in to_torch_state_dict(w).items()}
    module.load_state_dict(state_dict, strict=True)  # copies onto the module's device
    return module


def read_weights(module: nn.RNNBase) -> dict[str, np.ndarray]:
    """The canonical weight dict (NumPy copies) of a ``torch.nn.RNN``, ``LSTM`` or ``GRU``.

    Example:
        >>> sorted(read_weights(nn.GRU(3, 4)))
        ['W_hh_l0', 'W_ih_l0', 'b_hh_l0', 'b_ih_l0']
    """
    return from_torch_state_dict(module.state_dict())


def run(cell: nn.Module, x: torch.Tensor, state0=None):
    """Loop a one-step cell over time: the whole of what a recurrent layer adds to its cell.

    Args:
        cell: an :class:`RNNCell`, :class:`LSTMCell` or :class:`GRUCell` (or torch's own).
        x: (N, T, D) input, batch first.
        state0: initial state, h (N, H), or ``(h, c)`` for an LSTM; zeros if omitted.

    Returns:
        ``(out, state)``: out (N, T, H) holds h at every step; state is the last step's.

    Example:
        >>> out, (h, c) = run(LSTMCell(input_size=3, hidden_size=5), torch.zeros(2, 7, 3))
        >>> out.shape, h.shape
        (torch.Size([2, 7, 5]), torch.Size([2, 5]))
    """
    state, outs = state0, []
    for t in range(x.shape[1]):
        state = cell(x[:, t], state)  # the same weights at every step
        outs.append(state[0] if isinstance(state, tuple) else state)  # (N, H)
    return torch.stack(outs, dim=1), state  # (N, T, H)


def _tensors(cell: str, state0, device, requires_grad: bool = False) -> list[torch.Tensor]:
    """The backend's state0 as a list of tensors: ``[h0]``, or ``[h0, c0]`` for an LSTM."""
    arrays = state0 if cell == "lstm" else (state0,)
    return [torch.tensor(s, device=device, requires_grad=requires_grad) for s in arrays]


def _torch_state(cell: str, states: list[torch.Tensor]):
    """What torch.nn takes as its second argument: h0, or the pair ``(h0, c0)``."""
    return tuple(states) if cell == "lstm" else states[0]


def _run_module(module: nn.RNNBase, x: torch.Tensor, state0, lengths):
    """``module(x, state0)``, packing the batch first if ``lengths`` is given."""
    if lengths is None:
        return module(x, state0)
    # pack_padded_sequence wants the lengths on the CPU, wherever x is; enforce_sorted=False
    # sorts the batch by length internally and un-sorts out and state afterwards.
    packed = pack_padded_sequence(x, torch.as_tensor(lengths, dtype=torch.int64),
                                  batch_first=True, enforce_sorted=False)
    out, state = module(packed, state0)
    # Back to (N, T, H*dirs); padding_value=0 fills every step past a sequence's length.
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, state


def forward(spec: RNNSpec, x: np.ndarray, w: dict, state0, lengths, nonlinearity: str,
            device="cpu"):
    """Backend contract (:mod:`rnnkit.api`): run the layer stack, no gradients.

    Args:
        spec: the stack's shape, as inferred by :func:`rnnkit.weights.spec_from_weights`.
        x: (N, T, D) float32 or float64.
        w: canonical weights of the same dtype.
        state0: h0 (L*dirs, N, H), or ``(h0, c0)`` for an LSTM.
        lengths: None, or (N,) ints in [1, T].
        nonlinearity: ``"tanh"`` or ``"relu"``.
        device: where to compute; results come back as NumPy arrays either way.

    Returns:
        ``(out, state)``: out (N, T, H*dirs), zero past each length; state shaped like state0.

    Example:
        >>> from rnnkit.weights import init_weights
        >>> w = init_weights("gru", 3, 4, num_layers=2)
        >>> spec = spec_from_weights("gru", w)
        >>> out, h = forward(spec, np.ones((2, 5, 3), np.float32), w,
        ...                  np.zeros((2, 2, 4), np.float32), None, "tanh")
        >>> out.shape, h.shape
        ((2, 5, 4), (2, 2, 4))
    """
    module = build(spec.cell, w, nonlinearity, device)
    x, starts = torch.as_tensor(x, device=device), _tensors(spec.cell, state0, device)
    with torch.no_grad():
        out, state = _run_module(module, x, _torch_state(spec.cell, starts), lengths)
    state = tuple(_numpy(s) for s in state) if spec.cell == "lstm" else _numpy(state)
    return _numpy(out), state


def gradients(spec: RNNSpec, x: np.ndarray, w: dict, dout: np.ndarray, state0, lengths,
              nonlinearity: str, device="cpu") -> dict[str, np.ndarray]:
    """Backend contract (:mod:`rnnkit.api`): autograd of ``sum(out * dout)``.

    Arguments as in :func:`forward`, plus ``dout`` (N, T, H*dirs), the upstream gradient.

    Returns:
        dict of NumPy arrays: one per canonical weight name, plus ``"x"`` (N, T, D), ``"h0"``
        (L*dirs, N, H) and, for an LSTM, ``"c0"``.

    Example:
        >>> from rnnkit.weights import init_weights
        >>> w = init_weights("rnn", 2, 3)
        >>> g = gradients(spec_from_weights("rnn", w), np.ones((1, 4, 2), np.float32), w,
        ...               np.ones((1, 4, 3), np.float32), np.zeros((1, 1, 3), np.float32),
        ...               None, "tanh")
        >>> sorted(g), g["h0"].shape
        (['W_hh_l0', 'W_ih_l0', 'b_hh_l0', 'b_ih_l0', 'h0', 'x'], (1, 1, 3))
    """
    module = build(spec.cell, w, nonlinearity, device)
    x = torch.tensor(x, device=device, requires_grad=True)
    starts = _tensors(spec.cell, state0, device, requires_grad=True)  # [h0] or [h0, c0]
    out, _ = _run_module(module, x, _torch_state(spec.cell, starts), lengths)
    # d/d(out) of sum(out * dout) is dout: backprop of a chosen upstream gradient.
    (out * torch.as_tensor(dout, device=device)).sum().backward()
    grads = from_torch_state_dict({name: p.grad for name, p in module.named_parameters()})
    grads["x"] = _numpy(x.grad)
    for name, s in zip(("h0", "c0"), starts):
        grads[name] = _numpy(s.grad)
    return grads
