"""LSTM vs GRU, measured: parameters, seconds per epoch and validation loss, a few seeds.

    .venv/bin/python benchmarks/lstm_vs_gru.py     # from the repo root, ~2-3 min on 2 cores

The source's claim (question 1.3) is that the GRU "具有更好的性能", has better performance. This
script tests it instead of repeating it. It trains ``nn.GRU`` and ``nn.LSTM`` of the same
hidden size H with PyTorch (via rnnkit.train, PyTorch's default initialisation), plus an LSTM
whose forget-gate bias starts at 1 (Jozefowicz, Zaremba & Sutskever 2015), on two synthetic
tasks from rnnkit.data with the same data, seeds, optimizer and budget of steps:

* ``adding``: the adding problem at T = 50 (long memory; trivial baseline MSE 1/6);
* ``sine``: noisy-sine forecasting, the next 5 values from T = 30 noisy ones (short memory;
  trivial baseline: always predict 0, the mean of a sine, MSE about 1/2).

It records, per task, model and seed, the parameter count, the median wall-clock seconds per
epoch and the validation MSE after every epoch. Then it times one forward + backward pass of
the bare layers, ``nn.LSTM`` against ``nn.GRU``, with PyTorch's oneDNN (MKL-DNN) kernels on
(the default) and off: on the CPU PyTorch can run ``nn.LSTM`` through a fused oneDNN kernel
and has no such kernel for ``nn.GRU``, which matters as much as the GRU's smaller arithmetic.
Everything is written to benchmarks/results/lstm_vs_gru.json, which chapter 7 reads.

Threads: one (see benchmarks/adding_problem.py: the matmuls are tiny, and on a busy 2-core
machine two OpenMP threads were measured slower than one). Seconds depend on the machine and
on what else runs on it; the JSON records the load average before and after.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

import rnnkit
from rnnkit import data, train

OUT = Path(__file__).resolve().parent / "results" / "lstm_vs_gru.json"
MODELS = ("gru", "lstm", "lstm_fb1")  # lstm_fb1: nn.LSTM with forget-gate bias 1 at the start


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    T: int
    input_size: int       # D
    output_size: int      # O, the linear head's width
    n_train: int
    epochs: int


@dataclasses.dataclass
class Config:
    tasks: tuple[Task, ...] = (
        Task("adding", T=50, input_size=2, output_size=1, n_train=2560, epochs=12),  # 480 steps
        Task("sine", T=30, input_size=1, output_size=5, n_train=2560, epochs=5),    # 200 steps
    )
    models: tuple[str, ...] = MODELS
    seeds: tuple[int, ...] = (0, 1, 2)
    hidden_size: int = 32          # H, the same for every model
    n_val: int = 500
    batch_size: int = 64
    lr: float = 1e-2               # Adam, with the global gradient norm clipped to 1
    clip_norm: float = 1.0
    sine_noise: float = 0.2
    solved_mse: float = 0.01       # adding problem "solved": below 6% of the baseline 1/6
    threads: int = 1
    # The layer-only timing: (N, T, D, H) shapes, rounds x repeats of forward + backward.
    step_shapes: tuple[tuple[int, int, int, int], ...] = ((64, 50, 2, 32), (64, 50, 32, 128))
    step_rounds: int = 7
    step_repeats: int = 5


def make_data(cfg: Config, task: Task, seed: int):
    """``(x, y, x_val, y_val)`` for one task and seed; the same arrays for every model."""
    if task.name == "adding":
        x, y = data.adding_problem(task.n_train, task.T, seed=1000 * seed + 1)
        x_val, y_val = data.adding_problem(cfg.n_val, task.T, seed=1000 * seed + 2)
    else:
        kw = dict(noise=cfg.sine_noise, horizon=task.output_size)
        x, y = data.noisy_sine(task.n_train, task.T, seed=1000 * seed + 1, **kw)
        x_val, y_val = data.noisy_sine(cfg.n_val, task.T, seed=1000 * seed + 2, **kw)
    return x, y, x_val, y_val


def baseline_mse(task: Task, y_val) -> float:
    """MSE of a trivial predictor: always 1 (the adding problem), always 0 (a sine's mean)."""
    if task.name == "adding":
        return data.ADDING_BASELINE_MSE
    return float(np.mean(y_val ** 2))


def make_model(cfg: Config, task: Task, model: str, seed: int):
    cell = "gru" if model == "gru" else "lstm"
    net = train.torch_model(cell, task.input_size, cfg.hidden_size, task.output_size, seed=seed)
    if model == "lstm_fb1":
        H = cfg.hidden_size
        with torch.no_grad():  # rows i|f|g|o: the f block of b_ih + b_hh becomes exactly 1
            net.rnn.bias_ih_l0[H:2 * H] = 1.0
            net.rnn.bias_hh_l0[H:2 * H] = 0.0
    return net, cell


def run_one(cfg: Config, task: Task, model: str, seed: int, arrays) -> dict:
    x, y, x_val, y_val = arrays
    net, cell = make_model(cfg, task, model, seed)
    start = time.perf_counter()
    history = train.fit(net, x, y, epochs=task.epochs, optimizer="adam", lr=cfg.lr,
                        batch_size=cfg.batch_size, clip_norm=cfg.clip_norm, loss="mse",
                        validation=(x_val, y_val), progress=False, seed=seed)
    seconds = time.perf_counter() - start
    rnn_params = sum(p.numel() for p in net.rnn.parameters())
    row = {
        "task": task.name, "model": model, "cell": cell, "seed": seed,
        "params": sum(p.numel() for p in net.parameters()),  # recurrent layer + linear head
        "rnn_params": rnn_params,
        "steps": history.steps,
        "seconds_per_epoch": statistics.median(history.seconds),  # validation included
        "train_seconds": seconds,
        "val_mse": history.val_loss[-1],
        "val_curve": [float(f"{v:.5g}") for v in history.val_loss],
    }
    if task.name == "adding":
        hits = [e + 1 for e, v in enumerate(history.val_loss) if v < cfg.solved_mse]
        row["solved_epoch"] = hits[0] if hits else None
    return row


def summarise(rows: list[dict], cfg: Config) -> list[dict]:
    """One row per task and model: medians and ranges over the seeds."""
    out = []
    for task in cfg.tasks:
        for model in cfg.models:
            rs = [r for r in rows if r["task"] == task.name and r["model"] == model]
            mse = [r["val_mse"] for r in rs]
            row = {"task": task.name, "model": model, "params": rs[0]["params"],
                   "rnn_params": rs[0]["rnn_params"], "n_seeds": len(rs),
                   "seconds_per_epoch": statistics.median(r["seconds_per_epoch"] for r in rs),
                   "val_mse_median": statistics.median(mse), "val_mse_min": min(mse),
                   "val_mse_max": max(mse)}
            if task.name == "adding":
                row["solved"] = sum(r["solved_epoch"] is not None for r in rs)
            out.append(row)
    return out


def step_timing(cfg: Config) -> list[dict]:
    """Milliseconds for one forward + backward pass of the bare nn.LSTM / nn.GRU layer.

    Two implementations per cell: oneDNN on (PyTorch's default: a fused kernel for the LSTM,
    none for the GRU) and off (both cells then run the same generic ATen loop over time, so
    they cost roughly what their arithmetic costs). The four variants take turns in every
    round, so a burst of load on the machine hits them alike; the median over rounds is
    reported.
    """
    rows = []
    for N, T, D, H in cfg.step_shapes:
        x = torch.randn(N, T, D, generator=torch.Generator().manual_seed(0))  # (N, T, D)
        layers = {}
        for cell, cls in (("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)):
            torch.manual_seed(0)
            layers[cell] = cls(D, H, batch_first=True)

        def once(cell, onednn):
            layer = layers[cell]
            layer.zero_grad(set_to_none=True)
            with torch.backends.mkldnn.flags(enabled=onednn):
                out, _ = layer(x)                                              # (N, T, H)
                out.sum().backward()

        variants = [(cell, onednn) for onednn in (True, False) for cell in ("lstm", "gru")]
        samples = {v: [] for v in variants}
        for rnd in range(cfg.step_rounds + 1):  # round 0 warms up and is discarded
            for cell, onednn in variants:
                start = time.perf_counter()
                for _ in range(cfg.step_repeats):
                    once(cell, onednn)
                if rnd:
                    samples[(cell, onednn)].append(
                        1e3 * (time.perf_counter() - start) / cfg.step_repeats)
        for (cell, onednn), ms in samples.items():
            rows.append({"N": N, "T": T, "D": D, "H": H, "cell": cell, "onednn": onednn,
                         "ms_median": statistics.median(ms),
                         "ms_rounds": [round(m, 3) for m in ms]})
    return rows


def table(summary: list[dict], baselines: dict) -> str:
    head = (f"{'task':<7} {'model':<9} {'params':>7} {'s/epoch':>8} {'val MSE median':>15} "
            f"{'[min, max]':>19} {'baseline':>9}")
    lines = [head, "-" * len(head)]
    for r in summary:
        lines.append(f"{r['task']:<7} {r['model']:<9} {r['params']:>7,} "
                     f"{r['seconds_per_epoch']:>8.2f} {r['val_mse_median']:>15.4f} "
                     f"  [{r['val_mse_min']:.4f}, {r['val_mse_max']:.4f}] "
                     f"{baselines[r['task']]:>9.4f}"
                     + (f"  solved {r['solved']}/{r['n_seeds']}" if "solved" in r else ""))
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(Config.seeds))
    parser.add_argument("--threads", type=int, default=Config.threads)
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the JSON")
    args = parser.parse_args(argv)
    cfg = Config(seeds=tuple(args.seeds), threads=args.threads)
    # Toggling oneDNN warns about Intel GPUs on every call; there is no GPU here.
    warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")
    torch.set_num_threads(cfg.threads)
    load_before = os.getloadavg()

    # Warm-up: the first optimizer step pays one-off costs inside torch, which would
    # otherwise be charged to the first model in the table.
    x, y = data.adding_problem(8, 5)
    for cell in ("gru", "lstm"):
        train.fit(train.torch_model(cell, 2, 4, 1), x, y, epochs=1, progress=False)

    start, rows, baselines = time.perf_counter(), [], {}
    for task in cfg.tasks:
        for seed in cfg.seeds:
            arrays = make_data(cfg, task, seed)
            baselines[task.name] = baseline_mse(task, arrays[3])
            for model in cfg.models:
                rows.append(run_one(cfg, task, model, seed, arrays))
                r = rows[-1]
                print(f"{task.name:<7} {model:<9} seed {seed}: val MSE {r['val_mse']:.4f}, "
                      f"{r['seconds_per_epoch']:.2f} s/epoch", file=sys.stderr, flush=True)
    summary = summarise(rows, cfg)
    timing = step_timing(cfg)
    total = time.perf_counter() - start

    print(table(summary, baselines))
    print("\nforward + backward of the bare layer, ms (median of rounds):")
    for r in timing:
        print(f"  N={r['N']} T={r['T']} D={r['D']:<3} H={r['H']:<4} {r['cell']:<5} "
              f"oneDNN {'on ' if r['onednn'] else 'off'} {r['ms_median']:7.2f}")
    print(f"total {total:.0f} s, torch {torch.__version__}, {cfg.threads} thread(s) of "
          f"{os.cpu_count()} cores")

    result = {
        "command": " ".join(["python", "benchmarks/lstm_vs_gru.py", *(argv or sys.argv[1:])]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "numpy": np.__version__, "rnnkit": rnnkit.__version__},
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": cfg.threads,
                    "processor": platform.processor() or platform.machine(),
                    "onednn_available": torch.backends.mkldnn.is_available(),
                    "load_avg_before": [round(v, 2) for v in load_before],
                    "load_avg_after": [round(v, 2) for v in os.getloadavg()]},
        "total_seconds": total,
        "config": dataclasses.asdict(cfg),
        "claim": "GRU结合了LSTM和简化版的门控机制，具有更好的性能 (source, question 1.3)",
        "baseline_mse": baselines,
        "summary": summary,
        "runs": rows,
        "step_timing": timing,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
