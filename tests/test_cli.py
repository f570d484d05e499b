"""`rnnkit check`: per-test PASS/FAIL with messages and points; exit status 0 only if all pass."""
from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest


def _notebook(path, answer: str):
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"display_name": "Python 3", "name": "python3", "language": "python"}
    solution = nbformat.v4.new_code_cell(f"def double(v):\n    {answer}")
    solution.metadata.nbgrader = {"grade": False, "grade_id": "double", "locked": False,
                                  "schema_version": 3, "solution": True, "task": False}
    tests = []
    for grade_id, points, check in (("double-test", 2, "assert double(2) == 4, 'double(2) should be 4'"),
                                    ("double-type-test", 1, "assert isinstance(double(1), int)")):
        cell = nbformat.v4.new_code_cell(f'"""Checks {grade_id}."""\n{check}')
        cell.metadata.nbgrader = {"grade": True, "grade_id": grade_id, "locked": True,
                                  "points": points, "schema_version": 3, "solution": False,
                                  "task": False}
        tests.append(cell)
    nb.cells = [solution, *tests]
    nbformat.write(nb, path)
    return path


def _check(path):
    return subprocess.run([sys.executable, "-m", "rnnkit.cli", "check", str(path)],
                          capture_output=True, text=True, timeout=300)


def test_all_passing_exits_zero(tmp_path):
    """A correct notebook: every test PASS, full points, exit status 0."""
    proc = _check(_notebook(tmp_path / "ok.ipynb", "return 2 * v"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS  double-test" in proc.stdout and "3/3 points" in proc.stdout


def test_failures_show_the_assertion_message_and_exit_one(tmp_path):
    """A wrong answer: FAIL with the assertion's own message, the points lost, exit status 1."""
    proc = _check(_notebook(tmp_path / "wrong.ipynb", "return 2.0 * v + 1"))
    assert proc.returncode == 1
    assert "FAIL  double-test" in proc.stdout
    assert "AssertionError: double(2) should be 4" in proc.stdout
    assert "0 passed, 2 failed; 0/3 points" in proc.stdout


def test_blank_exercise_is_reported_as_not_attempted(tmp_path):
    """`raise NotImplementedError()` reads as not attempted, not as a crash."""
    proc = _check(_notebook(tmp_path / "blank.ipynb", "raise NotImplementedError()"))
    assert proc.returncode == 1 and "not attempted yet" in proc.stdout


@pytest.mark.parametrize("content", ["{not json", '{"cells": 3}'])
def test_broken_notebook_is_a_clear_error(tmp_path, content):
    """A file that is not a notebook: exit status 2 and a message saying what to do."""
    path = tmp_path / "broken.ipynb"
    path.write_text(content)
    proc = _check(path)
    assert proc.returncode == 2
    assert "is not a valid notebook" in proc.stderr and "re-download" in proc.stderr
