"""Grading throughput on 1 and 2 Dask workers, and where the time of one submission goes.

    .venv/bin/python benchmarks/bench_workers.py [--students 8] [--slugs 01_rnn_vs_cnn 04_lstm 08_applications]

The same submissions (each chapter's reference solution, handed in by every student: 24 by
default) are graded by `rnnkit grade`'s code, sandboxed, once on a local cluster of 1 worker and
once on 2, in fresh course folders, one after the other in this run. Feedback is skipped
(it is per chapter, not per submission). Prints submissions per minute for each, the speed-up
and the scaling efficiency (goal on a 2-core machine: 2 workers >= 1.7 x one), how many cores
were busy on average (/proc/stat: a "single-threaded" worker's kernel and nbgrader process
still use some of a second core), the fixed cost
of a run (registering, the gradebook snapshot, starting the cluster) and the mean cost of one
submission by step: the nbgrader process around it, the sandboxed kernel's start, the first
cell (the chapter's imports: NumPy, PyTorch, TensorFlow), the other cells, the grader's probes,
and the gradebook commit (in the grader, one at a time).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from rnnkit.grading import parallel, runner, sandbox

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_course import ROOT, reference_submission  # noqa: E402

STEPS = ("startup", "kernel_start", "first_cell", "cells", "probes", "shutdown")


def busy_seconds() -> float:
    """CPU seconds this machine's cores have spent busy since boot (/proc/stat), every process
    counted: kernels, nbgrader, workers, the grader."""
    fields = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def course_folder(root: Path, slugs, students: int) -> Path:
    shutil.copy(ROOT / "nbgrader_config.py", root)
    for slug in slugs:
        shutil.copytree(ROOT / "solutions" / slug, root / "solutions" / slug)
        nb = reference_submission(slug)
        for k in range(students):
            path = root / "submitted" / f"s{k:02d}" / slug / f"{slug}.ipynb"
            path.parent.mkdir(parents=True)
            nbformat.write(nb, path)
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slugs", nargs="+", default=["01_rnn_vs_cnn", "04_lstm", "08_applications"])
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    os.environ["PATH"] = runner._env()["PATH"]  # nbgrader runs `alembic` from this environment
    sandbox.check_available()
    count = len(args.slugs) * args.students
    print(f"{count} submissions ({args.students} students x {len(args.slugs)} chapters), "
          f"sandboxed, {parallel.cores()} cores", flush=True)
    report = {}
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            course = course_folder(Path(tmp), args.slugs, args.students)
            stats: dict = {}
            start, busy = time.perf_counter(), busy_seconds()
            outcomes = runner.grade(course, course / "submitted", feedback=False,
                                    workers=workers, stats=stats, echo=lambda line: None)
            wall = time.perf_counter() - start
            stats["cores_busy"] = (busy_seconds() - busy) / wall
            assert all(o.graded for o in outcomes), [o for o in outcomes if not o.graded]
            rows = runner.export(course, course / "grades.csv")
            assert all(float(r["score"]) == float(r["max_score"]) and not r["flagged"]
                       for r in rows), "a reference submission lost points or was flagged"
        report[workers] = (wall, stats, outcomes)
        print(f"{workers} worker(s): {wall:7.1f} s, {60 * count / wall:5.2f} submissions/min "
              f"(grading phase {stats['grading']:.1f} s); cores busy on average "
              f"{stats['cores_busy']:.2f} of {parallel.cores()}", flush=True)

    first = min(args.workers)
    for workers in sorted(args.workers)[1:]:
        speedup = report[first][0] / report[workers][0]
        phase = report[first][1]["grading"] / report[workers][1]["grading"]
        print(f"\n{workers} vs {first} worker(s): speed-up {speedup:.2f}x whole run "
              f"({phase:.2f}x grading phase), efficiency {speedup / (workers / first):.0%}; "
              f"goal >= 1.7x")
    print("\nfixed cost per run (s):            " + "  ".join(
        f"{w} worker(s): register {s['register']:.1f}, snapshot {s['snapshot']:.2f}, "
        f"cluster start {s['cluster_start']:.1f}" for w, (_, s, _) in report.items()))
    print("per submission, mean seconds:")
    header = ["process", *STEPS, "other", "commit"]
    print(f"  {'workers':<8}" + "".join(f"{h:>13}" for h in header))
    for workers, (_, _, outcomes) in report.items():
        for o in outcomes:  # the kernel's shutdown and the audit pipe's last reports
            t = o.timings
            t["shutdown"] = t["execute"] - sum(t[k] for k in STEPS[1:-1])
        means = {k: statistics.mean(o.timings.get(k, 0.0) for o in outcomes)
                 for k in ("process", *STEPS, "commit")}
        means["other"] = means["process"] - sum(means[k] for k in STEPS)
        print(f"  {workers:<8}" + "".join(f"{means[h]:13.2f}" for h in header))
    print("  (process: the worker's nbgrader process, start to end; startup: Python and the "
          "imports of nbgrader and the grader;\n   kernel_start: until the sandboxed kernel "
          "answers; first_cell: the chapter's imports; shutdown: the kernel's, and the audit "
          "pipe's\n   last reports; other: the rest of the process (configuration, sanitising, "
          "writing the notebook); commit: the grader's, one at a time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
