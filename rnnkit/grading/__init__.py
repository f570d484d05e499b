"""Grading a class with nbgrader, where the graded cannot change the grades.

    runner.py    `rnnkit grade`: register chapters, grade each submission in its own process,
                 feedback, export, the score table (with "flagged: <reason>")
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
