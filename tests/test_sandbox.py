"""Hostile submissions (tests/hostile/), graded end to end through `rnnkit grade` in the sandbox.

Chapter 1 (module fixture): a classmate's reference submission is graded first, in a run of
its own, and its gradebook rows are kept; then one run grades a reference submission, every
hostile one, and a blank one, in that order. For each hostile file the `# expect:` line must hold (flagged,
zero, or not graded with the given reason); and across the run: the reference keeps full
marks and the blank 0, the course files and the installed rnnkit package are byte-for-byte
unchanged, the classmate's gradebook rows are byte-for-byte what they were, nothing reached a listener on the
loopback, the process flood was bounded, and no process a submission started is left.
A file whose code says `# place: after` replaces the first exercise's stub instead of going
above it.
"""
from __future__ import annotations

import csv
import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

import rnnkit
from rnnkit import notebook

from test_grading import ROOT, SLUGS, _course, _filled, _release, _tests

pytestmark = pytest.mark.slow
SLUG = SLUGS[0]
HOSTILE = sorted((ROOT / "tests" / "hostile").glob("*.txt"))
MARK = "987654.321"  # `sleep MARK`: how the test finds what a submission left running
LIMITS = ["--timeout", "30", "--submission-timeout", "120", "--max-processes", "96"]


def _expect(path: Path) -> str:
    return next(ln for ln in path.read_text().splitlines() if ln.startswith("# expect:"))[9:].strip()


def _digest(*roots: Path) -> dict[str, str]:
    out = {}
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()
                                                     and "__pycache__" not in p.parts)
        out.update({str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files})
    return out


def _rows_of(course: Path, student: str) -> list[tuple]:
    """Every gradebook row (grades, comments, the submission) that belongs to one student."""
    import sqlite3

    db = sqlite3.connect(course / "gradebook.db")
    ids = "SELECT id FROM submitted_assignment WHERE student_id = ?"
    books = f"SELECT id FROM submitted_notebook WHERE assignment_id IN ({ids})"
    return [*db.execute(f"SELECT * FROM submitted_assignment WHERE id IN ({ids})", (student,)),
            *db.execute(f"SELECT * FROM submitted_notebook WHERE id IN ({books})", (student,)),
            *db.execute(f"SELECT * FROM grade WHERE notebook_id IN ({books}) ORDER BY id", (student,)),
            *db.execute(f"SELECT * FROM comment WHERE notebook_id IN ({books}) ORDER BY id", (student,))]


def _left_behind() -> list[str]:
    ps = subprocess.run(["ps", "-eo", "pid,user,args"], capture_output=True, text=True).stdout
    return [ln for ln in ps.splitlines() if MARK in ln and "ps -eo" not in ln]


class _Listener(threading.Thread):
    """A TCP service on the host's loopback that counts who reached it."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port, self.accepted = self.sock.getsockname()[1], 0

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


def _hostile_notebook(path: Path, course: Path, port: int) -> nbformat.NotebookNode:
    code = path.read_text().replace("{COURSE}", str(course)).replace("{PORT}", str(port)) \
        .replace("{MARK}", MARK)
    nb = _release(SLUG)
    first = next(c for c in nb.cells if notebook.is_solution_cell(c) and c.cell_type == "code")
    after = "# place: after" in code  # replaces the exercise's stub instead of preceding it
    first.source = first.source + "\n" + code if after else code + "\n" + first.source
    return nb


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    course = tmp_path_factory.mktemp("sandbox") / "course"
    listener = _Listener()
    listener.start()
    total = sum(_tests(SLUG).values())
    subs = [("a-reference", _filled(SLUG), total)]
    subs += [(f"h-{p.stem}", _hostile_notebook(p, course, listener.port), None) for p in HOSTILE]
    subs.append(("z-blank", _release(SLUG), 0.0))
    _course(course, {SLUG: [("0-classmate", _filled(SLUG), total), *subs]})
    package = Path(rnnkit.__file__).parent
    before = _digest(course / "solutions", course / "nbgrader_config.py", package)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}

    def grade(folder):
        return subprocess.run([sys.executable, "-m", "rnnkit.cli", "grade", folder,
                               "--course-dir", str(course), "--csv", str(course / "grades.csv"),
                               *LIMITS], capture_output=True, text=True, env=env, timeout=1800)

    # The classmate, graded before anyone else and then moved out of the way of the next run.
    (course / "earlier" / "0-classmate").parent.mkdir()
    (course / "submitted" / "0-classmate").rename(course / "earlier" / "0-classmate")
    first = grade("earlier")
    assert first.returncode == 0, first.stdout + first.stderr
    classmate = _rows_of(course, "0-classmate")
    start = time.perf_counter()
    proc = grade("submitted")
    seconds = time.perf_counter() - start
    print(proc.stdout[-10000:], proc.stderr[-4000:])
    listener.sock.close()
    with open(course / "grades.csv", newline="") as fh:
        rows = {r["student_id"]: r for r in csv.DictReader(fh)}
    after = _digest(course / "solutions", course / "nbgrader_config.py", package)
    return dict(course=course, stdout=proc.stdout, rc=proc.returncode, rows=rows, total=total,
                before=before, after=after, listener=listener, seconds=seconds,
                classmate=(classmate, _rows_of(course, "0-classmate")))


def _outputs(run, student) -> str:
    path = run["course"] / "autograded" / student / SLUG / f"{SLUG}.ipynb"
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


def test_reference_before_keeps_full_marks_and_blank_after_keeps_zero(run):
    """The honest submissions around the hostile ones score exactly as they should, unflagged."""
    rows = run["rows"]
    assert float(rows["a-reference"]["score"]) == run["total"], rows["a-reference"]
    assert float(rows["z-blank"]["score"]) == 0.0
    assert rows["a-reference"]["flagged"] == "" and rows["z-blank"]["flagged"] == ""


@pytest.mark.parametrize("path", HOSTILE, ids=[p.stem for p in HOSTILE])
def test_hostile_submission_gets_what_it_deserves(run, path):
    """Each hostile submission is flagged, scores 0, or is not graded, as its file expects."""
    student, expect = f"h-{path.stem}", _expect(path)
    row, stdout = run["rows"][student], run["stdout"]
    if expect.startswith("not-graded"):
        reason = expect.split(":", 1)[1].strip()
        line = next(ln for ln in stdout.splitlines() if ln.startswith(f"  {student}/"))
        assert "NOT GRADED" in line and reason in line, line
        assert float(row["score"]) == 0.0
        return
    if "zero" in expect:
        assert float(row["score"]) == 0.0, row
    if "flagged" in expect:
        assert row["flagged"], f"{student} was not flagged: {row}"
        assert f"flagged: " in next(ln for ln in stdout.splitlines()
                                    if ln.startswith(student) and SLUG in ln)
    if not expect:
        pytest.fail(f"{path.name} has no expectation")


def test_course_and_installed_package_are_unchanged(run):
    """Sources, config and the rnnkit package are byte-for-byte what they were before grading."""
    changed = {k for k in run["before"] if run["before"][k] != run["after"].get(k)}
    assert not changed and run["before"].keys() == run["after"].keys(), changed
    assert "WROTE" not in _outputs(run, "h-write_course")
    assert "refused" in _outputs(run, "h-write_course")


def test_gradebook_rows_of_others_are_untouched(run):
    """The UPDATE attempt reached no gradebook: the classmate graded earlier has byte-for-byte
    the same rows, full marks; the reference graded before the attacks keeps its points."""
    from nbgrader.api import Gradebook

    assert "updated" not in _outputs(run, "h-gradebook_update")
    before, after = run["classmate"]
    assert before and before == after
    assert float(run["rows"]["0-classmate"]["score"]) == run["total"]
    with Gradebook(f"sqlite:///{run['course'] / 'gradebook.db'}") as gb:
        for grade_id, points in _tests(SLUG).items():
            grade = gb.find_grade(grade_id, SLUG, SLUG, "a-reference")
            assert grade.auto_score == points and not grade.needs_manual_grade, grade_id


def test_no_network_not_even_the_hosts_loopback(run):
    """The listener on the grading machine's loopback saw no connection."""
    assert run["listener"].accepted == 0
    assert "no network" in _outputs(run, "h-network_probe")


def test_process_flood_is_bounded_and_nothing_is_left(run):
    """The flood hit the process limit, and no process any submission started still runs."""
    text = _outputs(run, "h-fork_flood")
    started = int(text.split("STARTED", 1)[1].split()[0])
    assert started < 96, text[-500:]
    assert not _left_behind(), _left_behind()


def test_output_flood_is_cut_off(run):
    """A 64 MB print is cut at the submission's output limit; the notebook stays small."""
    path = run["course"] / "autograded" / "h-output_flood" / SLUG / f"{SLUG}.ipynb"
    assert path.stat().st_size < 20 * 2**20
    assert "output truncated by the grader" in _outputs(run, "h-output_flood")


def test_every_hostile_kind_is_in_the_corpus():
    """The corpus covers every attack class the grading issue lists."""
    kinds = {p.stem for p in HOSTILE}
    assert {"read_solutions", "always_equal", "gradebook_update", "write_course", "fork_flood",
            "memory_hog", "network_probe", "leave_children", "sleep_forever", "exception_hook",
            "hidden_patch", "hidden_read", "from_scratch", "output_flood"} <= kinds


def test_from_scratch_answer_earns_points_only_after_review(run):
    """The library call answers the exercise, but its points wait for the instructor."""
    from nbgrader.api import Gradebook

    assert "may not call" in run["rows"]["h-from_scratch"]["flagged"]
    with Gradebook(f"sqlite:///{run['course'] / 'gradebook.db'}") as gb:
        grade = gb.find_grade("rnn-step-forward-test", SLUG, SLUG, "h-from_scratch")
        assert grade.needs_manual_grade and grade.auto_score is None
