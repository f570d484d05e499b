"""Grading on Dask: one task per submission, the results committed in a fixed order.

``rnnkit grade --workers N`` starts a local Dask cluster for the run (N single-threaded worker
processes; by default one per core); ``--scheduler tcp://HOST:8786`` sends the same tasks to a
cluster that is already running (dask-jobqueue on SLURM or PBS, dask-kubernetes, ...). A task
is one submission's sandboxed execution (worker.execute); what comes back is the executed
notebook. The grader commits each result to the gradebook itself, in the order of the
submission list, as soon as every earlier one is in: 1, 2 or N workers give the same rows.

A worker that dies mid-task (killed, out of memory) costs only that attempt: the scheduler
gives the task to another worker, up to ``retries`` times, and after that the submission is
reported as not graded with the reason; the others go on.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Callable, Iterable

from .worker import Job, Result, execute

# Thread pools of BLAS, OpenMP and TensorFlow in every kernel: one core per worker is the plan.
SINGLE_THREADED = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                   "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextlib.contextmanager
def client(workers: int | None = None, scheduler: str | None = None, retries: int = 2):
    """A Dask client: on `scheduler`, or on a local cluster of `workers` processes started for
    the run and stopped after it. `retries`: how many times a task whose worker died is given to
    another worker (the local cluster's setting; a running cluster keeps its own)."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout="30s") as found:
            yield found
        return
    for name in SINGLE_THREADED:
        os.environ.setdefault(name, "1")
    # Not daemonic: a worker forks each submission's nbgrader process from a warm server
    # (worker.py), which multiprocessing allows only non-daemonic processes.
    settings = {"distributed.scheduler.allowed-failures": retries,
                "distributed.worker.daemon": False}
    with dask.config.set(settings):
        with LocalCluster(n_workers=workers or cores(), threads_per_worker=1, processes=True,
                          memory_limit=0, dashboard_address=None,
                          silence_logs=logging.CRITICAL) as cluster, Client(cluster) as local:
            yield local


def run(dask_client, jobs: list[Job], snapshot: bytes, commit: Callable[[Result], None],
        echo: Callable[[str], None] = print, retries: int = 2) -> Iterable[Result]:
    """Execute `jobs` on the cluster; `commit` each result in the order of `jobs`."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker
    from tqdm import tqdm

    if not jobs:
        return []
    shared = dask_client.scatter(snapshot, broadcast=True)
    futures = [dask_client.submit(execute, job, shared, pure=False,
                                  key=f"grade-{job.student}-{job.slug}-{job.key[:12]}")
               for job in jobs]
    position = {f.key: i for i, f in enumerate(futures)}
    bar = tqdm(total=len(jobs), unit="submission", desc="grading", file=sys.stderr,
               disable=not sys.stderr.isatty(), dynamic_ncols=True)
    say = bar.write if not bar.disable else echo
    waiting, results, next_up = {}, [], 0
    try:
        for future in as_completed(futures):
            i = position[future.key]
            job = jobs[i]
            try:
                result = future.result()
            except KilledWorker:
                result = Result(job.student, job.slug, job.key, None,
                                problem=f"the grading worker died each time it ran this "
                                        f"submission ({retries + 1} tries: killed, or out of "
                                        f"memory); not retried further")
            except Exception as exc:  # noqa: BLE001 - one task's failure is that task's
                result = Result(job.student, job.slug, job.key, None,
                                problem=f"grading failed on its worker: "
                                        f"{type(exc).__name__}: {exc}")
            future.release()
            waiting[i] = result
            while next_up in waiting:  # commit in the list's order, as soon as possible
                result = waiting.pop(next_up)
                commit(result)
                results.append(result)
                next_up += 1
                bar.update(1)
                say(line(result))
    finally:
        bar.close()
    return results


def line(result: Result) -> str:
    """The log line of one submission."""
    status = "graded" if result.graded else f"NOT GRADED: {result.problem}"
    memory = f", peak {result.peak_memory_mb:.0f} MB" if result.peak_memory_mb else ""
    return f"  {result.student}/{result.slug}: {status} ({result.seconds:.1f} s{memory})"
