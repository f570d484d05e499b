"""`rnnkit grade --db-url postgresql+psycopg://...`: a PostgreSQL gradebook, end to end.

The first test opens one new gradebook from several processes at the same instant. The others
grade real submissions in the sandbox (the blank release: 0 points; the reference solution:
full marks; in the first, also a tampered one: flagged) into a new database on a throwaway
PostgreSQL server (tests/pg.py), then read the exported CSV, the feedback pages and the
gradebook's rows back from PostgreSQL.
"""
from __future__ import annotations

import csv
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Course, Gradebook, SubmittedAssignment

from rnnkit import notebook
from rnnkit.grading import runner

from pg import postgres_server, postgres_url  # noqa: F401 (fixtures)
from test_grading import SLUGS, _course, _filled, _release, _tests
from test_workers import _command, _env
from test_workers import _course as _small_course

pytestmark = pytest.mark.slow
OPTIONS = ["--timeout", "45", "--submission-timeout", "300", "--workers", "1"]
COURSE = "rnn-interview"  # nbgrader_config.py's course_id
AT_ONCE = 8  # processes opening one gradebook at once (with 4, the flags race showed seldom)
TAMPER = "import numpy as np\nnp.allclose = lambda *args, **kwargs: True\n"


def _chapter(slug):
    """The blank release and the reference solution of one chapter, with their scores."""
    return {slug: [("blank", _release(slug), 0.0),
                   ("reference", _filled(slug), sum(_tests(slug).values()))]}


def _tampered(slug):
    """The reference with np.allclose replaced in its last exercise, and the score it keeps:
    the test cells above that exercise (those below it are flagged for a manual grade)."""
    nb = _filled(slug)
    last = max(i for i, c in enumerate(nb.cells)
               if notebook.is_solution_cell(c) and c.cell_type == "code")
    nb.cells[last].source = TAMPER + nb.cells[last].source
    kept = sum(float(notebook.nbgrader_meta(c)["points"]) for c in nb.cells[:last]
               if notebook.is_test_cell(c))
    assert 0 < kept < sum(_tests(slug).values()), "the tampering should cost some points"
    return nb, kept


def _start(course: Path, db_url: str) -> subprocess.Popen:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.Popen([sys.executable, "-m", "rnnkit.cli", "grade", "submitted",
                             "--course-dir", str(course), "--db-url", db_url,
                             "--csv", str(course / "grades.csv"), *OPTIONS],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _finish(proc: subprocess.Popen) -> str:
    out = proc.communicate(timeout=900)[0]
    assert proc.returncode == 0, out[-6000:]
    return out


def _csv(course: Path) -> dict:
    with open(course / "grades.csv", newline="") as fh:
        return {(r["student_id"], r["assignment"]): r for r in csv.DictReader(fh)}


def _check_gradebook(db_url: str, expected: dict, also=()) -> None:
    """Every (student, chapter) is one submission in the gradebook, with every graded cell's
    score right (all points on the reference, none on the blank), and nothing else is there
    but the submissions `also` lists."""
    with Gradebook(db_url, COURSE) as gb:
        found = [(s.student.id, s.assignment.name) for s in gb.db.query(SubmittedAssignment)]
        assert sorted(found) == sorted([*expected, *also]), f"submissions in the gradebook: {found}"
        for (student, slug), total in expected.items():
            submission = gb.find_submission_notebook(slug, slug, student)
            scores = {g.name: g.score for g in submission.grades}
            want = {grade_id: points if total else 0.0 for grade_id, points in _tests(slug).items()}
            assert scores == want, f"{student}/{slug}: cell scores (got) {scores} != {want}"
            assert gb.find_submission(slug, student).score == total


def _first_use(db_url, barrier, results) -> None:
    """What each `rnnkit grade` does to the gradebook first (registering), then last (flags)."""
    problems = []
    for step in (lambda: runner.prepare_gradebook(db_url, COURSE, ["blank", "reference"]),
                 lambda: runner.flags(db_url)):
        barrier.wait(timeout=60)  # every process starts the step at once
        try:
            step()
        except Exception as exc:  # reported to the test, which names it
            problems.append(f"{type(exc).__name__}: {exc}"[:300])
    results.put(problems[0] if problems else "ok")


def test_first_use_of_a_gradebook_by_runs_at_once(postgres_server, monkeypatch):
    """Eight runs opening one new PostgreSQL gradebook at the same instant, then reading its flags
    at the same instant, three times over: each succeeds, and the gradebook holds each course
    and student once. (nbgrader creates the tables, a course or a student when it opens a
    gradebook that lacks them; unguarded, all but one run fail here with a unique violation.)"""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ['PATH']}")  # alembic
    fork = multiprocessing.get_context("fork")
    for trial in range(3):
        url = postgres_server.url(f"first_use_{trial}")
        barrier, results = fork.Barrier(AT_ONCE), fork.Queue()
        procs = [fork.Process(target=_first_use, args=(url, barrier, results))
                 for _ in range(AT_ONCE)]
        for proc in procs:
            proc.start()
        outcomes = [results.get(timeout=120) for _ in procs]
        for proc in procs:
            proc.join(timeout=60)
        assert outcomes == ["ok"] * AT_ONCE, outcomes
        with Gradebook(url, COURSE) as gb:
            assert sorted(c.id for c in gb.db.query(Course)) == ["default_course", COURSE]
            assert sorted(s.id for s in gb.students) == ["blank", "reference"]


def test_grade_into_postgresql_end_to_end(tmp_path, postgres_url):
    """One `rnnkit grade --db-url postgresql+psycopg://...` run: exit 0; exact CSV scores;
    feedback pages written; every graded cell's score stored in PostgreSQL; and the tampered
    submission flagged, in the CSV's `flagged` column (runner.flags reads it from PostgreSQL)
    and in the gradebook (its cells below the tampering need a manual grade)."""
    slug = SLUGS[0]
    tampered, kept = _tampered(slug)
    subs = {slug: [*_chapter(slug)[slug], ("tampered", tampered, kept)]}
    course, expected = _course(tmp_path / "course", subs)
    out = _finish(_start(course, postgres_url))
    rows = _csv(course)
    assert {k: float(r["score"]) for k, r in rows.items()} == expected, out[-4000:]
    flagged = {k: r["flagged"] for k, r in rows.items() if r["flagged"]}
    assert list(flagged) == [("tampered", slug)] and "allclose" in flagged["tampered", slug], rows
    assert runner.flags(postgres_url) == flagged
    for student, _ in expected:
        assert (course / "feedback" / student / slug / f"{slug}.html").is_file(), student
    assert not (course / "gradebook.db").exists(), "graded into SQLite instead of PostgreSQL"
    del expected["tampered", slug]
    _check_gradebook(postgres_url, expected, also=[("tampered", slug)])
    with Gradebook(postgres_url, COURSE) as gb:
        grades = gb.find_submission_notebook(slug, slug, "tampered").grades
        assert sum(g.needs_manual_grade for g in grades) > 0
        assert sum(g.score for g in grades) == kept


def test_two_runs_at_once_share_one_postgresql_gradebook(tmp_path, postgres_url):
    """Two `rnnkit grade` runs started together on a new, empty gradebook (chapters 1 and 2, in
    their own course folders, the same students): both finish with exit 0 and exact scores,
    and the gradebook holds each submission once, every cell scored right."""
    courses = [_course(tmp_path / f"course{k}", _chapter(slug)) for k, slug in
               enumerate(SLUGS[:2])]
    procs = [_start(course, postgres_url) for course, _ in courses]
    outputs = [_finish(proc) for proc in procs]
    expected = {}
    for (course, want), out in zip(courses, outputs):
        rows = _csv(course)  # also the other run's rows, as far as it had got by then
        assert {k: float(rows[k]["score"]) for k in want} == want, out[-4000:]
        expected.update(want)
    _check_gradebook(postgres_url, expected)



def test_gradebook_restarted_mid_run(tmp_path, postgres_server):
    """The PostgreSQL server goes down after the first submission is committed: the run stops
    with a clear error (exit 2) after retrying, and writes nothing half-way. With the server back,
    the same command skips the committed submission and finishes; every row is right, once."""
    url = postgres_server.url("restarted")
    students = ["s0-right", "s1-float", "s2-blank"]
    course = _small_course(tmp_path / "course", set(students))
    command = _command(course, "--workers", "1", "--db-url", url)
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=_env())
    for line in run.stdout:
        if "s0-right/tiny: graded" in line:
            postgres_server.pause()
            break
    out, err = run.communicate(timeout=600)
    print(out[-4000:], err[-4000:])
    assert run.returncode == 2, err
    assert "could not write s1-float/tiny to the gradebook" in err and "run the same command" in err
    postgres_server.resume()
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, env=_env())
    print(proc.stdout[-4000:], proc.stderr[-4000:])
    assert proc.returncode == 0, proc.stderr
    assert "s0-right/tiny: unchanged since it was graded, skipped" in proc.stdout
    assert "s1-float/tiny: graded" in proc.stdout and "s2-blank/tiny: graded" in proc.stdout
    with Gradebook(url, COURSE) as gb:
        found = sorted((s.student.id, s.score) for s in gb.db.query(SubmittedAssignment))
    assert found == [("s0-right", 3.0), ("s1-float", 2.0), ("s2-blank", 0.0)]
