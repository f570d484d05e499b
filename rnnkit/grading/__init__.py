"""Grading a class with nbgrader, where the graded cannot change the grades.

    runner.py    `rnnkit grade`: register chapters, grade every submission on Dask workers,
                 feedback, export, the score table (with "flagged: <reason>")
    parallel.py  the Dask cluster (local, or --scheduler), one task per submission, results
                 committed in the submissions' order
    worker.py    one submission's task: its own nbgrader process and sandbox, in a private
                 course folder; returns the executed notebook
    gradebook.py the gradebook, written from one place: preparing it, snapshots for workers,
                 committing a result, skipping what is graded and unchanged
    autograde.py nbgrader's autograde with the two steps below in its pipeline
    execute.py   the Execute step, sandboxed and watched; FlagForReview after the scores
    sandbox.py   bubblewrap, an unprivileged user, cgroup limits, the kernel manager
    kernel.py    the kernel's launcher inside the sandbox (limits, audit hook)
    tamper.py    static checks on the learner's cells (Python's ast)
    probe.py     checks at run time, from the grader's side

The RNN library (rnnkit.numpy, .torch, .keras, ...) never imports this package.
"""
from .runner import Outcome, add_arguments, export, grade, run

__all__ = ["Outcome", "add_arguments", "export", "grade", "run"]
