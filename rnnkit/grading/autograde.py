"""``python -m rnnkit.grading.autograde ASSIGNMENT --student S ...``: nbgrader's autograde with
the execution step replaced by the sandboxed, watched one (execute.py) and flags for review
after the scores are saved. Everything else is nbgrader's own pipeline, in its own order.
`rnnkit grade`'s workers run this once per submission, in its own process, with a private
gradebook (worker.py); there the scores are not saved (RNNKIT_REPORT_FILE is set): the grader
saves them from the executed notebook, with the same steps (gradebook.commit).
"""
from __future__ import annotations

import os
import sys
import time

from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.apps import NbGraderApp
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern,
                                    LimitOutput, SaveAutoGrades)
from traitlets.config import Config

from .execute import FlagForReview, SandboxedExecute


def pipeline(execute, scoring: bool = True) -> list:
    """nbgrader's autograde steps with `execute` in Execute's place, and FlagForReview after
    the scores are saved (without the scoring steps, for a worker's private gradebook)."""
    scores = [SaveAutoGrades, FlagForReview, AssignLatePenalties] if scoring else []
    return [execute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, *scores,
            CheckCellMetadata]


def main(argv=None) -> None:
    worker = bool(os.environ.get("RNNKIT_REPORT_FILE"))
    if worker:  # how long Python and these imports took
        import psutil

        os.environ["RNNKIT_STARTUP_SECONDS"] = str(time.time() - psutil.Process().create_time())
    config = Config()
    config.Autograde.autograde_preprocessors = pipeline(SandboxedExecute, scoring=not worker)
    NbGraderApp.launch_instance(argv=["autograde", *(sys.argv[1:] if argv is None else argv)],
                                config=config)


if __name__ == "__main__":
    main()
