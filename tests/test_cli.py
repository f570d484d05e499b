"""`rnnkit check`: per-test PASS/FAIL with messages and points; exit status 0 only if all pass.
`rnnkit grade`: refuses without its sandbox tool, and says so when told to run without it."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


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
    assert "without encryption" not in proc.stderr  # the kernel talks over ipc sockets, not TCP


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


def _grade(course, *options, env=None):
    return subprocess.run([sys.executable, "-m", "rnnkit.cli", "grade", "submitted",
                           "--course-dir", str(course), "--csv", str(course / "grades.csv"),
                           *options], capture_output=True, text=True, timeout=300, env=env)


def test_grade_without_the_sandbox_tool_says_how_to_install_it(tmp_path):
    """No bwrap on the PATH: `rnnkit grade` refuses before grading anything, and says what to do."""
    (tmp_path / "submitted").mkdir()
    proc = _grade(tmp_path, env={"PATH": str(Path(sys.executable).parent)})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "bubblewrap (bwrap) is not installed" in proc.stderr
    assert "make sandbox" in proc.stderr and "--no-sandbox" in proc.stderr


def test_grade_no_sandbox_says_so(tmp_path):
    """--no-sandbox is explicit and loud: the run starts with a warning."""
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    (tmp_path / "submitted").mkdir()
    proc = _grade(tmp_path, "--no-sandbox")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("WARNING: --no-sandbox: submissions run WITHOUT isolation")
