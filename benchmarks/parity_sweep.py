"""How much room tests/test_parity.py's bound leaves, over many random configurations.

    .venv/bin/python benchmarks/parity_sweep.py [--cases 1200] [--seed 11]

Draws random cells, shapes (N <= 4, T <= 6, D, H <= 5), layers, directions, lengths and h0,
as the hypothesis test does, runs NumPy, PyTorch and Keras on each, and prints, for every
pair of backends, the largest error two ways: the test's scaled error (each array's
magnitude plus a tenth of the run's largest) and the plain relative error (each array's own
magnitude), which near-cancelling float32 gradients push past 1e-5 now and then.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_parity import BACKENDS, BOUND, CELLS, make_case, run_backend, scaled_errors  # noqa: E402

from rnnkit.checks import rel_error  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    worst_scaled, worst_plain, over, start = (0.0, ""), 0.0, 0, time.perf_counter()
    pairs = [(a, b) for i, a in enumerate(BACKENDS) for b in BACKENDS[i + 1:]]
    for _ in range(args.cases):
        cell, nonlinearity = CELLS[rng.integers(len(CELLS))]
        N, T, D, H = (int(rng.integers(1, m + 1)) for m in (4, 6, 5, 5))
        layers, bi, lengths, h0 = (int(rng.integers(1, 3)), *(bool(rng.integers(2)) for _ in "abc"))
        seed = int(rng.integers(0, 2**16))
        case = make_case(cell, N, T, D, H, layers, bi, lengths, h0, seed)
        results = {b: run_backend(b, cell, nonlinearity, *case) for b in BACKENDS}
        for a, b in pairs:
            scaled = max(scaled_errors(results[a], results[b]).values())
            plain = max(rel_error(results[a][k], results[b][k]) for k in results[a])
            if scaled > worst_scaled[0]:
                worst_scaled = (scaled, f"{cell}/{nonlinearity} N{N} T{T} D{D} H{H} L{layers} "
                                        f"bi={bi} lengths={lengths} h0={h0} seed={seed}, {a} vs {b}")
            worst_plain = max(worst_plain, plain)
            over += plain > BOUND
    print(f"{args.cases} random cases, {len(pairs)} pairs each, {time.perf_counter() - start:.0f} s")
    print(f"worst scaled error (the test's): {worst_scaled[0]:.1e}, bound {BOUND:.0e} "
          f"({worst_scaled[1]})")
    print(f"worst plain relative error: {worst_plain:.1e}; pairs over {BOUND:.0e}: {over} "
          f"of {args.cases * len(pairs)}")


if __name__ == "__main__":
    main()
