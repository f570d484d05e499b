"""LSTM forward + backward: NumPy (from scratch) vs PyTorch vs Keras (tf.function), one process.

    .venv/bin/python benchmarks/bench_lstm.py [--repeats 30] [--rounds 5]

Shape N=64, T=100, D=32, H=128, float32, CPU. All three compute the same numbers from the
same canonical weights (checked before timing). The runs are interleaved: each round times
every framework once for `--repeats` iterations, so machine noise hits all three alike; the
median over rounds is reported. Goal (issue 2): NumPy at most 0.6x PyTorch's time and at most
2x Keras's.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
N, T, D, H = 64, 100, 32, 128


def numpy_step(spec, x, w, state0, dout):
    from rnnkit.numpy import layers

    def run():
        _, _, cache = layers.forward_with_cache(spec, x, w, state0)
        return layers.backward(dout, cache)
    return run


def torch_step(w, x, dout):
    import torch

    from rnnkit.torch.layers import build

    module = build("lstm", w)
    xt, dt = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(dout)

    def run():
        module.zero_grad(set_to_none=True)
        xt.grad = None
        out, _ = module(xt)
        out.backward(dt)
        return xt.grad
    return run


def keras_step(w, x, dout):
    import tensorflow as tf

    from rnnkit.keras.layers import build

    model = build("lstm", w)
    variables = model.trainable_variables
    zeros = tf.zeros((N, H))
    xt, dt = tf.constant(x), tf.constant(dout)

    @tf.function
    def run_tf(x, dout):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = model([x, zeros, zeros])[0]
            loss = tf.reduce_sum(out * dout)
        return tape.gradient(loss, [x, *variables])

    def run():
        return run_tf(xt, dt)[0].numpy()
    return run


def timed(fn, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import rnnkit
    from rnnkit.weights import spec_from_weights

    rng = np.random.default_rng(0)
    w = rnnkit.init_weights("lstm", D, H, seed=0)
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    dout = rng.standard_normal((N, T, H)).astype(np.float32)
    spec = spec_from_weights("lstm", w)
    state0 = (np.zeros((1, N, H), np.float32), np.zeros((1, N, H), np.float32))
    runs = {"numpy": numpy_step(spec, x, w, state0, dout), "torch": torch_step(w, x, dout),
            "keras": keras_step(w, x, dout)}

    dx = {name: np.asarray(run()["x"] if name == "numpy" else run()) for name, run in runs.items()}
    for name in ("torch", "keras"):  # the same numbers before the same clock
        err = rnnkit.rel_error(dx["numpy"], dx[name])
        print(f"dx numpy vs {name}: relative error {err:.1e} (bound 1e-5)")
        assert err < 1e-5
    for run in runs.values():  # warm-up: tf.function tracing, allocator, BLAS threads
        timed(run, 3)

    samples = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            samples[name].append(timed(run, args.repeats))
    ms = {name: 1e3 * statistics.median(s) for name, s in samples.items()}

    import tensorflow as tf
    import torch
    print(f"\nLSTM forward+backward, N={N} T={T} D={D} H={H}, float32, CPU "
          f"(torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"tensorflow {tf.__version__}; numpy {np.__version__}); "
          f"median of {args.rounds} rounds x {args.repeats} repeats")
    for name, value in ms.items():
        print(f"  {name:<6} {value:8.2f} ms")
    print(f"  numpy / torch = {ms['numpy'] / ms['torch']:.2f}  (goal <= 0.6)")
    print(f"  numpy / keras = {ms['numpy'] / ms['keras']:.2f}  (goal <= 2)")


if __name__ == "__main__":
    main()
