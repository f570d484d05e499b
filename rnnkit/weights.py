"""The canonical weight layout, its initialisers and its validation.

Every backend reads and writes ONE framework-neutral layout, PyTorch's. A weight set is a
flat ``dict`` of float arrays. For layer ``l`` (0-based) and direction ``sfx`` (``""`` for
forward, ``"_reverse"`` for the backward direction of a bidirectional RNN)::

    W_ih_l{l}{sfx}  (g*H, D_l)   input-to-hidden, gates stacked along rows
    W_hh_l{l}{sfx}  (g*H, H)     hidden-to-hidden, same row order
    b_ih_l{l}{sfx}  (g*H,)       input bias
    b_hh_l{l}{sfx}  (g*H,)       recurrent bias

with ``D_0 = D`` (input features) and ``D_l = H * directions`` for ``l > 0``, and ``g`` gates:

=====  ===  =========================  =============================================
cell    g   row blocks of W (H each)    equations (sigma = logistic sigmoid)
=====  ===  =========================  =============================================
rnn     1   (one block)                 h = tanh(W_ih x + b_ih + W_hh h' + b_hh)
lstm    4   i | f | g | o               i,f,o = sigma(.), g = tanh(.),
                                        c = f*c' + i*g, h = o*tanh(c)
gru     3   r | z | n                   r,z = sigma(W_i x + b_i + W_h h' + b_h),
                                        n = tanh(W_in x + b_in + r*(W_hn h' + b_hn)),
                                        h = (1-z)*n + z*h'
=====  ===  =========================  =============================================

(``h'``, ``c'`` are the previous step's state.) Note the GRU's ``r`` multiplies
``(W_hn h' + b_hn)``, *after* the recurrent matmul: this is PyTorch's and cuDNN's form, which
Keras calls ``reset_after=True``. A GRU has no cell state; its only state is ``h``.

How the other frameworks store the same numbers (converters: :mod:`rnnkit.convert`):

==================  ==============================  ==========================================
framework           layout                          bias
==================  ==============================  ==========================================
PyTorch             as above, ``weight_ih_l0`` ...  two biases, as above
Keras LSTM          kernel (D, 4H) cols i|f|c|o,    one bias (4H,) = b_ih + b_hh
                    recurrent_kernel (H, 4H)
Keras SimpleRNN     kernel (D, H), rec. (H, H)      one bias (H,) = b_ih + b_hh
Keras GRU           kernel (D, 3H) cols z|r|h       bias (2, 3H): [input bias, recurrent bias]
(reset_after=True)
TF1 LSTMCell        kernel (D+H, 4H) over [x, h],   bias (4H,); ``forget_bias`` (default 1.0)
                    cols i|j|f|o (j = candidate)    is added to f at call time, not stored
==================  ==============================  ==========================================
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
"""Number of gate blocks ``g`` stacked in each weight matrix, per cell type."""

SCHEMES = ("torch", "keras", "orthogonal", "identity")


@dataclass(frozen=True)
class RNNSpec:
    """Shape of a (possibly stacked, bidirectional) recurrent layer.

    Attributes:
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        input_size: D, features per time step.
        hidden_size: H, units per direction.
        num_layers: stacked layers; layer ``l > 0`` reads the ``(N, T, H*dirs)`` output of ``l-1``.
        bidirectional: whether each layer also runs right to left.
    """

    cell: str
    input_size: int
    hidden_size: int
    num_layers: int = 1
    bidirectional: bool = False

    @property
    def gates(self) -> int:
        return GATES[self.cell]

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def layer_input_size(self, layer: int) -> int:
        return self.input_size if layer == 0 else self.hidden_size * self.directions

    def suffixes(self):
        """Yield ``(layer, direction, suffix)`` in PyTorch's order (layer-major)."""
        for layer in range(self.num_layers):
            for direction in range(self.directions):
                yield layer, direction, f"_l{layer}" + ("_reverse" if direction else "")

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Expected shape of every weight, keyed by canonical name."""
        g, H = self.gates, self.hidden_size
        out = {}
        for layer, _, sfx in self.suffixes():
            D_l = self.layer_input_size(layer)
            out["W_ih" + sfx] = (g * H, D_l)
            out["W_hh" + sfx] = (g * H, H)
            out["b_ih" + sfx] = (g * H,)
            out["b_hh" + sfx] = (g * H,)
        return out


def check_cell(cell: str) -> str:
    """Return ``cell`` if it is a known cell type, else raise a ValueError that lists them."""
    if cell not in GATES:
        raise ValueError(f"unknown cell {cell!r}: expected one of {sorted(GATES)}")
    return cell


def spec_from_weights(cell: str, w: dict) -> RNNSpec:
    """Infer the :class:`RNNSpec` of a canonical weight dict and check every shape.

    Raises:
        ValueError: naming the weight, the expected shape and the received one.

    Example:
        >>> w = init_weights("lstm", input_size=3, hidden_size=5, num_layers=2)
        >>> spec_from_weights("lstm", w)
        RNNSpec(cell='lstm', input_size=3, hidden_size=5, num_layers=2, bidirectional=False)
    """
    check_cell(cell)
    if not isinstance(w, dict) or "W_ih_l0" not in w or "W_hh_l0" not in w:
        got = sorted(w) if isinstance(w, dict) else type(w).__name__
        raise ValueError(f"expected a canonical weight dict with keys W_ih_l0, W_hh_l0, b_ih_l0, "
                         f"b_hh_l0, ... (see rnnkit.weights); received {got}")
    g = GATES[cell]
    rows, H = np.shape(w["W_hh_l0"])
    if rows != g * H:
        raise ValueError(f"W_hh_l0 for a {cell} must have shape (g*H, H) = ({g}*{H}, {H}) = "
                         f"{(g * H, H)}; received {np.shape(w['W_hh_l0'])}. "
                         f"Is this a weight set for another cell type?")
    num_layers = 1 + max(int(k.split("_l")[1].split("_")[0]) for k in w if "_l" in k)
    spec = RNNSpec(cell, int(np.shape(w["W_ih_l0"])[1]), int(H), num_layers,
                   bidirectional="W_hh_l0_reverse" in w)
    expected = spec.shapes()
    missing = sorted(set(expected) - set(w))
    extra = sorted(set(w) - set(expected))
    if missing or extra:
        raise ValueError(f"weights for {spec} expected keys {sorted(expected)}; "
                         f"missing {missing}, unexpected {extra}")
    for name, shape in expected.items():
        if tuple(np.shape(w[name])) != shape:
            raise ValueError(f"{name} must have shape {shape} for {spec}; "
                             f"received {tuple(np.shape(w[name]))}")
    return spec


def layer_weights(w: dict, layer: int = 0, suffix: str = "", gates: int = 1) -> list:
    """``[W_ih, W_hh, b_ih, b_hh]`` of one layer and direction of a canonical dict, checked.

    The values come back as stored (arrays or tensors); the framework cell files convert them.

    Raises:
        ValueError: a key is missing (naming the keys there are), or ``W_hh`` does not have
            ``gates`` blocks of rows (weights of another cell type).

    Example:
        >>> w = init_weights("gru", input_size=3, hidden_size=4, num_layers=2)
        >>> [np.shape(a) for a in layer_weights(w, layer=1, gates=3)]
        [(12, 4), (12, 4), (12,), (12,)]
    """
    names = [f"{p}_l{layer}{suffix}" for p in ("W_ih", "W_hh", "b_ih", "b_hh")]
    missing = [n for n in names if n not in w]
    if missing:
        raise ValueError(f"weights have no {missing}; available keys: {sorted(w)}. "
                         f"Layers count from 0; suffix is '' or '_reverse'")
    values = [w[n] for n in names]
    rows, H = np.shape(values[1])
    if rows != gates * H:
        raise ValueError(f"{names[1]} has shape {tuple(np.shape(values[1]))}; a cell with "
                         f"{gates} gate block(s) needs ({gates}*H, H). "
                         f"Are these weights for another cell type?")
    return values


def _uniform(rng, shape, limit, dtype):
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def _orthogonal(rng, rows, cols, dtype, gain=1.0):
    """A (rows, cols) matrix with orthonormal rows or columns (QR of a Gaussian, sign-fixed)."""
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # makes the distribution uniform over orthogonal matrices
    q = q if rows >= cols else q.T
    return (gain * q).astype(dtype)


def init_weights(cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, seed: int = 0, scheme: str = "torch",
                 forget_bias: float | None = None, dtype=np.float32) -> dict[str, np.ndarray]:
    """Create a canonical weight dict (layout: module docstring).

    Schemes:
        ``"torch"``: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)) (PyTorch's default).
        ``"keras"``: W_ih Glorot-uniform over the fused (D, g*H) kernel, W_hh orthogonal over
        the fused (H, g*H) recurrent kernel, biases zero, LSTM forget bias 1
        (Keras's ``unit_forget_bias=True``).
        ``"orthogonal"``: each gate block of W_hh orthogonal, W_ih Glorot-uniform, biases zero.
        ``"identity"``: W_hh = I per gate block, W_ih ~ N(0, 0.001^2), biases zero (IRNN; Le,
        Jaitly & Hinton 2015, meant for ``cell="rnn"`` with ReLU).

    Args:
        forget_bias: LSTM only; if given, the forget rows of ``b_ih`` are set to it and those
            of ``b_hh`` to zero, so the pre-activation of f starts at ``forget_bias``.

    Returns:
        dict of arrays of ``dtype``, shapes as in :meth:`RNNSpec.shapes`.

    Example:
        >>> w = init_weights("gru", input_size=3, hidden_size=4, seed=0)
        >>> sorted(w), w["W_ih_l0"].shape
        (['W_hh_l0', 'W_ih_l0', 'b_hh_l0', 'b_ih_l0'], (12, 3))
    """
    check_cell(cell)
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}: expected one of {SCHEMES}")
    if forget_bias is not None and cell != "lstm":
        raise ValueError(f"forget_bias applies to an lstm only; received cell={cell!r}")
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                        ("num_layers", num_layers)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer; received {value!r}")
    spec = RNNSpec(cell, int(input_size), int(hidden_size), int(num_layers), bool(bidirectional))
    rng = np.random.default_rng(seed)
    g, H = spec.gates, spec.hidden_size
    w = {}
    for layer, _, sfx in spec.suffixes():
        D_l = spec.layer_input_size(layer)
        if scheme == "torch":
            k = 1.0 / np.sqrt(H)
            W_ih, W_hh = _uniform(rng, (g * H, D_l), k, dtype), _uniform(rng, (g * H, H), k, dtype)
            b_ih, b_hh = _uniform(rng, (g * H,), k, dtype), _uniform(rng, (g * H,), k, dtype)
        else:
            zeros = np.zeros(g * H, dtype)
            b_ih, b_hh = zeros, zeros.copy()
            glorot = np.sqrt(6.0 / (D_l + g * H))
            if scheme == "keras":
                W_ih = _uniform(rng, (g * H, D_l), glorot, dtype)
                W_hh = _orthogonal(rng, g * H, H, dtype)  # Keras: orthogonal (H, g*H), transposed
                if cell == "lstm":
                    b_ih = b_ih.copy()
                    b_ih[H:2 * H] = 1.0
            elif scheme == "orthogonal":
                W_ih = _uniform(rng, (g * H, D_l), glorot, dtype)
                W_hh = np.concatenate([_orthogonal(rng, H, H, dtype) for _ in range(g)])
            else:  # identity (IRNN)
                W_ih = (0.001 * rng.standard_normal((g * H, D_l))).astype(dtype)
                W_hh = np.concatenate([np.eye(H, dtype=dtype)] * g)
        if forget_bias is not None:
            b_ih, b_hh = b_ih.copy(), b_hh.copy()
            b_ih[H:2 * H], b_hh[H:2 * H] = forget_bias, 0.0
        w.update({"W_ih" + sfx: W_ih, "W_hh" + sfx: W_hh, "b_ih" + sfx: b_ih, "b_hh" + sfx: b_hh})
    return w
