"""``python -m rnnkit.grading.autograde ASSIGNMENT --student S ...``: nbgrader's autograde with
the execution step replaced by the sandboxed, watched one (execute.py) and flags for review
after the scores are saved. Everything else is nbgrader's own pipeline, in its own order.
`rnnkit grade` runs this once per submission, in its own process.
"""
from __future__ import annotations

import sys

from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.apps import NbGraderApp
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern,
                                    LimitOutput, SaveAutoGrades)
from traitlets.config import Config

from .execute import FlagForReview, SandboxedExecute


def main(argv=None) -> None:
    config = Config()
    config.Autograde.autograde_preprocessors = [
        SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
        FlagForReview, AssignLatePenalties, CheckCellMetadata]
    NbGraderApp.launch_instance(argv=["autograde", *(sys.argv[1:] if argv is None else argv)],
                                config=config)


if __name__ == "__main__":
    main()
