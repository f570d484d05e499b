"""The adding problem: a tanh RNN stays at the trivial baseline, an LSTM solves it.

    .venv/bin/python benchmarks/adding_problem.py      # from the repo root, ~5 min on 2 cores

Trains a tanh RNN and an LSTM of the same hidden size with PyTorch (via rnnkit.train) on the
adding problem (rnnkit.data.adding_problem) for two sequence lengths, with fixed seeds and a
fixed budget of optimizer steps, and compares the test MSE with the trivial baseline of
always predicting 1, MSE 1/6 ~ 0.167. Prints a table and writes it, with the per-epoch loss
curves and per-step gradient norms, to benchmarks/results/adding_problem.json, so the book
can show the same figures without re-training.

Threads: one by default. The recurrent matmuls here are tiny ((64, 66) x (66, 256) for the
LSTM), so a second intra-op thread gains little, and on a busy 2-core machine two OpenMP
threads that wait on each other measured 3-10x slower per step than one.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from rnnkit import data, train

OUT = Path(__file__).resolve().parent / "results" / "adding_problem.json"
GRAD_NORM_STRIDE = 10


@dataclasses.dataclass
class Config:
    cells: tuple[str, ...] = ("rnn", "lstm")
    lengths: tuple[int, ...] = (50, 100)
    hidden_size: int = 64
    n_train: int = 12_800          # 200 steps per epoch at batch_size 64
    n_val: int = 1_000             # scored after every epoch: the loss curves
    n_test: int = 2_000            # scored once, at the end: the table
    epochs: int = 8                # 1,600 optimizer steps in all
    batch_size: int = 64
    lr: float = 1e-2               # Adam; with clip_norm=1.0, stable for both cells
    clip_norm: float = 1.0
    seed: int = 0
    threads: int = 1
    solved_mse: float = 0.01       # "solved": test MSE below 6% of the baseline


def run_one(cfg: Config, cell: str, T: int) -> dict:
    """Train one model on one length; returns a row of the table plus its history.

    ``train_seconds`` is the wall time of ``fit``, the per-epoch validation included.
    """
    # Different data seeds per split; the same splits for both cells at a given T.
    x, y = data.adding_problem(cfg.n_train, T, seed=cfg.seed * 1000 + 1)
    x_val, y_val = data.adding_problem(cfg.n_val, T, seed=cfg.seed * 1000 + 2)
    x_test, y_test = data.adding_problem(cfg.n_test, T, seed=cfg.seed * 1000 + 3)
    model = train.torch_model(cell, input_size=2, hidden_size=cfg.hidden_size, output_size=1,
                              seed=cfg.seed)
    start = time.perf_counter()
    history = train.fit(model, x, y, epochs=cfg.epochs, optimizer="adam", lr=cfg.lr,
                        batch_size=cfg.batch_size, clip_norm=cfg.clip_norm, loss="mse",
                        validation=(x_val, y_val), seed=cfg.seed)
    seconds = time.perf_counter() - start
    test_mse = train.evaluate(model, x_test, y_test, loss="mse")
    hist = history.to_dict()
    # Every GRAD_NORM_STRIDE-th step's norm, 4 digits: enough for a figure, keeps the JSON small.
    hist["grad_norm"] = [float(f"{g:.4g}") for g in hist["grad_norm"][::GRAD_NORM_STRIDE]]
    return {
        "cell": cell, "T": T,
        "params": sum(p.numel() for p in model.parameters()),
        "test_mse": test_mse,
        "baseline_mse": data.ADDING_BASELINE_MSE,
        "solved": test_mse < cfg.solved_mse,
        "steps": history.steps,
        "grad_norm_stride": GRAD_NORM_STRIDE,
        "train_seconds": seconds,
        "history": hist,
    }


def table(rows: list[dict]) -> str:
    head = f"{'cell':<5} {'T':>4} {'params':>7} {'test MSE':>9} {'baseline':>9} {'solved?':>8} {'train s':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['cell']:<5} {r['T']:>4} {r['params']:>7,} {r['test_mse']:>9.4f} "
                     f"{r['baseline_mse']:>9.3f} {'yes' if r['solved'] else 'no':>8} "
                     f"{r['train_seconds']:>8.1f}")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=Config.epochs)
    parser.add_argument("--lengths", type=int, nargs="+", default=list(Config.lengths))
    parser.add_argument("--threads", type=int, default=Config.threads)
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the JSON")
    args = parser.parse_args(argv)
    cfg = Config(epochs=args.epochs, lengths=tuple(args.lengths), threads=args.threads)
    torch.set_num_threads(cfg.threads)

    # Warm-up: the first optimizer step pays one-off imports inside torch (seconds), which
    # would otherwise be charged to the first model in the table.
    x, y = data.adding_problem(8, 5)
    train.fit(train.torch_model("rnn", 2, 4, 1), x, y, epochs=1, progress=False)

    start, rows = time.perf_counter(), []
    for T in cfg.lengths:
        for cell in cfg.cells:
            rows.append(run_one(cfg, cell, T))
            print(table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    total = time.perf_counter() - start
    print(table(rows))
    print(f"total {total:.0f} s, torch {torch.__version__}, {cfg.threads} thread(s) of "
          f"{os.cpu_count()} cores")

    result = {
        "command": " ".join([".venv/bin/python", "benchmarks/adding_problem.py", *(argv or sys.argv[1:])]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": cfg.threads,
                    "processor": platform.processor() or platform.machine()},
        "total_seconds": total,
        "config": dataclasses.asdict(cfg),
        "claim": "tanh RNN stays near the trivial baseline MSE 1/6; LSTM goes well below it",
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
