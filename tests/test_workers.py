"""`rnnkit grade --workers N`: the same grades on 1 or 2 Dask workers; nothing lost, nothing twice.

A small course (one notebook, one exercise, two test cells: a kernel starts in a second or two)
and eight submissions of every kind the grader must handle: right, partly right, blank, flagged
(code from a string), an endless loop (cut by the cell timeout), a kernel that kills itself, and
a file that is not a notebook. Real runs of the command line, real worker processes killed with
SIGKILL, a real grading run killed and run again.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_cli import _notebook

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
SLUG = "tiny"
ANSWERS = {  # student -> the body of `double(v)`, and the score it earns out of 3
    "s0-right": ("return 2 * v", 3.0),
    "s1-float": ("return 2.0 * v", 2.0),  # right value, wrong type: the second test fails
    "s2-blank": ("raise NotImplementedError()", 0.0),
    "s3-right-too": ("return v + v", 3.0),
    "s4-from-string": ("return eval('2 * v')", 0.0),  # flagged: its points wait for review
    "s5-endless": ("while True:\n        pass", 0.0),  # every test cell hits the cell timeout
    "s6-kernel-dies": ("import os; os.kill(os.getpid(), 9)", 0.0),  # not graded
}
NOT_GRADED = {"s6-kernel-dies", "s7-not-json"}


def _course(root: Path, students=None) -> Path:
    (root / "solutions" / SLUG).mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    _notebook(root / "solutions" / SLUG / f"{SLUG}.ipynb",
              "### BEGIN SOLUTION\n    return 2 * v\n    ### END SOLUTION")
    for student, (answer, _) in ANSWERS.items():
        if students is None or student in students:
            _submit(root, student, answer)
    if students is None or "s7-not-json" in students:
        _submitted(root, "s7-not-json").write_text("{not json")
    return root


def _submitted(root: Path, student: str) -> Path:
    path = root / "submitted" / student / SLUG / f"{SLUG}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _submit(root: Path, student: str, answer: str) -> None:
    _notebook(_submitted(root, student), answer)


def _command(course: Path, *options) -> list[str]:
    return [sys.executable, "-m", "rnnkit.cli", "grade", "submitted", "--course-dir", str(course),
            "--csv", str(course / "grades.csv"), "--timeout", "3", "--no-feedback", *options]


def _env():
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "PYTHONUNBUFFERED": "1"}


def _grade(course: Path, *options) -> subprocess.CompletedProcess:
    proc = subprocess.run(_command(course, *options), capture_output=True, text=True,
                          timeout=900, env=_env())
    print(proc.stdout[-6000:], proc.stderr[-3000:])
    return proc


def _rows(course: Path) -> dict[str, dict]:
    with open(course / "grades.csv", newline="") as fh:
        return {r["student_id"]: r for r in csv.DictReader(fh)}


def _gradebook(course: Path) -> list[tuple]:
    """Every grade and comment, in the order they were written (SQLite's rowid), without the
    random ids: what two runs must have written alike."""
    db = sqlite3.connect(course / "gradebook.db")
    query = """SELECT st.id, c.name, {cols} FROM {table} g
               JOIN submitted_notebook sn ON g.notebook_id = sn.id
               JOIN submitted_assignment sa ON sn.assignment_id = sa.id
               JOIN student st ON sa.student_id = st.id
               JOIN base_cell c ON g.cell_id = c.id ORDER BY g.rowid"""
    try:
        return [*db.execute(query.format(table="grade", cols="g.auto_score, g.needs_manual_grade")),
                *db.execute(query.format(table="comment", cols="g.auto_comment, ''"))]
    finally:
        db.close()


def _graded_lines(stdout: str) -> list[str]:
    return [ln.split("/")[0].strip() for ln in stdout.splitlines() if ": graded (" in ln]


def _check_scores(rows: dict) -> None:
    for student, (_, score) in ANSWERS.items():
        assert float(rows[student]["score"]) == score, (student, rows[student])
    assert float(rows["s7-not-json"]["score"]) == 0.0
    assert rows["s4-from-string"]["flagged"] and not rows["s0-right"]["flagged"]


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    course = _course(tmp_path_factory.mktemp("one") / "course")
    proc = _grade(course, "--workers", "1")
    return course, proc


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _worker_running(student: str, grader: int, within: float = 240) -> int:
    """The pid of the Dask worker process (a child of the `rnnkit grade` process `grader`)
    running `student`'s submission, once its nbgrader process has run for a moment. That
    process works in a private course folder holding the submission (worker.py)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                cwd = Path(os.readlink(proc / "cwd"))
                if "rnnkit-grade-" not in cwd.name or not (cwd / "submitted" / student).is_dir():
                    continue
                pid = int(proc.name)
                while pid > 1 and _parent(pid) != grader:
                    pid = _parent(pid)
            except (OSError, ValueError):
                continue
            if pid > 1:
                time.sleep(1.0)  # its kernel is starting: the task is well under way
                return pid
        time.sleep(0.1)
    raise AssertionError(f"{student}'s submission never started")


def test_one_worker_grades_every_kind_of_submission(one_worker):
    """Exact scores, the flag, and the two that cannot be graded reported as such (exit 1)."""
    course, proc = one_worker
    assert proc.returncode == 1, proc.stderr
    _check_scores(_rows(course))
    for student in NOT_GRADED:
        assert f"{student}/{SLUG}: NOT GRADED" in proc.stdout
    assert sorted(_graded_lines(proc.stdout)) == sorted(set(ANSWERS) - NOT_GRADED)


def test_two_workers_give_the_same_csv_and_gradebook(one_worker, tmp_path):
    """Graded on 2 workers, in whatever order they finish: the same CSV, byte for byte, and the
    same gradebook rows written in the same order."""
    course, _ = one_worker
    two = _course(tmp_path / "course")
    proc = _grade(two, "--workers", "2")
    assert proc.returncode == 1, proc.stderr
    assert (two / "grades.csv").read_text() == (course / "grades.csv").read_text()
    assert _gradebook(two) == _gradebook(course)
    # the log comes in the list's order too
    assert _graded_lines(proc.stdout) == sorted(set(ANSWERS) - NOT_GRADED)


def test_a_killed_worker_loses_nothing(one_worker, tmp_path):
    """SIGKILL the worker in the middle of a submission: the scheduler gives it to another
    worker, and the grades are exactly those of the undisturbed run."""
    course, _ = one_worker
    two = _course(tmp_path / "course")
    run = subprocess.Popen(_command(two, "--workers", "2"), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=_env())
    os.kill(_worker_running("s1-float", run.pid), signal.SIGKILL)
    out, err = run.communicate(timeout=900)
    print(out[-6000:], err[-3000:])
    assert run.returncode == 1, err
    assert (two / "grades.csv").read_text() == (course / "grades.csv").read_text()
    assert _graded_lines(out).count("s1-float") == 1


def test_a_worker_that_keeps_dying_is_reported_not_graded(tmp_path):
    """With no retries left, the submission whose worker died is NOT GRADED with the reason;
    the others are graded as usual."""
    course = _course(tmp_path / "course", {"s0-right", "s1-float", "s2-blank"})
    run = subprocess.Popen(_command(course, "--workers", "2", "--retries", "0"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    os.kill(_worker_running("s1-float", run.pid), signal.SIGKILL)
    out, err = run.communicate(timeout=900)
    print(out[-6000:], err[-3000:])
    assert run.returncode == 1
    assert "s1-float/tiny: NOT GRADED: the grading worker died" in out
    rows = _rows(course)
    assert float(rows["s0-right"]["score"]) == 3.0 and float(rows["s1-float"]["score"]) == 0.0
    assert sorted(_graded_lines(out)) == ["s0-right", "s2-blank"]


def test_a_killed_run_resumed_grades_each_submission_once(one_worker, tmp_path):
    """SIGKILL the grading run after three commits; change one graded submission; run the same
    command again. The second run skips what the first committed (except the changed one),
    grades the rest, and the end result is the undisturbed run's, with one submission each."""
    course, _ = one_worker
    again = _course(tmp_path / "course")
    run = subprocess.Popen(_command(again, "--workers", "1"), stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True, env=_env())
    first = []
    for line in run.stdout:
        if ": graded (" in line:
            first.append(line.split("/")[0].strip())
        if len(first) == 3:
            run.kill()
            break
    run.wait(timeout=60)
    assert first == ["s0-right", "s1-float", "s2-blank"]
    _submit(again, "s1-float", "return float(v) * 2")  # a resubmission: still 2 of 3
    proc = _grade(again, "--workers", "1")
    skipped = [ln.split("/")[0].strip() for ln in proc.stdout.splitlines()
               if ln.endswith("unchanged since it was graded, skipped")]
    assert skipped == ["s0-right", "s2-blank"]
    second = _graded_lines(proc.stdout)
    assert sorted(first[:1] + first[2:] + second) == sorted(set(ANSWERS) - NOT_GRADED)
    assert (again / "grades.csv").read_text() == (course / "grades.csv").read_text()
    db = sqlite3.connect(again / "gradebook.db")
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT student_id) FROM submitted_assignment"
                      ).fetchone() == (7, 7)  # the file that is not a notebook never gets one
    assert db.execute("SELECT COUNT(*) FROM grade").fetchone() == (14,)


def test_an_existing_cluster_grades_the_same(one_worker, tmp_path):
    """`--scheduler tcp://...`: a Dask scheduler and workers started on their own (as on a
    SLURM or Kubernetes cluster, here with Dask's own command line) grade the same CSV."""
    course, _ = one_worker
    other = _course(tmp_path / "course")
    bin_dir, info = Path(sys.executable).parent, tmp_path / "scheduler.json"
    started = [subprocess.Popen([bin_dir / "dask", "scheduler", "--scheduler-file", info,
                                 "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())]
    try:
        deadline = time.monotonic() + 60
        while not info.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        started.append(subprocess.Popen(
            [bin_dir / "dask", "worker", "--scheduler-file", info, "--nworkers", "2",
             "--nthreads", "1", "--memory-limit", "0", "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env()))
        address = json.loads(info.read_text())["address"]
        proc = _grade(other, "--scheduler", address)
        assert proc.returncode == 1, proc.stderr
        assert f"on the Dask cluster at {address}" in proc.stdout
        assert (other / "grades.csv").read_text() == (course / "grades.csv").read_text()
    finally:
        for p in reversed(started):
            p.terminate()
            p.wait(timeout=60)
