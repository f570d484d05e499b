"""End to end through nbgrader: every chapter, every kind of submission, exact scores.

One grading run (module fixture) covers, for every chapter in solutions/:
  * the blank release                      -> 0 points, and every graded cell fails;
  * the reference solution                 -> full marks, and every graded cell passes;
and, for the first chapter,
  * one typical mistake in every exercise but the last -> loses exactly the listed test
    cells' points (tests/mistakes/<slug>.json), i.e. partial credit comes out exact;
  * the broken kinds: invalid JSON, deleted test cells, edited test cells, a cell that never
    ends, a kernel that dies.
Scores are read from the exported CSV. Every chapter's mistakes are checked one by one, with
nbgrader's scoring rule, in test_mistakes.py; grading them all through nbgrader again would
execute 12 more notebooks for nothing test_mistakes.py does not already prove.
Run alone (`pytest -n 0 tests/test_grading.py`), the run grades on two Dask workers (one per
core); under `make test`'s two xdist workers the other worker already uses the second core, so
it grades on one. (tests/test_workers.py shows that 1 and 2 workers give the same grades.)
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from rnnkit import notebook

ROOT = Path(__file__).resolve().parents[1]
SLUGS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
pytestmark = pytest.mark.slow
CELL_TIMEOUT = 45  # seconds; the infinite loop below is cut off after this. The slowest cell
# of a chapter (importing torch and TensorFlow) takes ~9 s on a 2-core machine whose other core
# is busy: 45 s leaves room for a slower machine, and costs the run little.
WORKERS = 1 if os.environ.get("PYTEST_XDIST_WORKER") else 2


def _source(slug):
    return notebook.read(ROOT / "solutions" / slug / f"{slug}.ipynb")


def _release(slug):
    return notebook.read(ROOT / "chapters" / slug / f"{slug}.ipynb")


def _tests(slug) -> dict[str, float]:
    return {notebook.nbgrader_meta(c)["grade_id"]: float(notebook.nbgrader_meta(c)["points"])
            for c in _source(slug).cells if notebook.is_test_cell(c)}


def _mistakes(slug) -> list[dict]:
    return json.loads((ROOT / "tests" / "mistakes" / f"{slug}.json").read_text())


def _filled(slug, mistakes=()):
    """The release notebook with the reference solutions typed in (some possibly wrong)."""
    solutions = {notebook.nbgrader_meta(c)["grade_id"]: notebook.solution_body(c.source)
                 for c in _source(slug).cells if notebook.is_solution_cell(c)}
    nb = _release(slug)
    for cell in nb.cells:
        if notebook.is_solution_cell(cell):
            grade_id = notebook.nbgrader_meta(cell)["grade_id"]
            cell.source = solutions[grade_id]
            for mistake in (m for m in mistakes if m["solution"] == grade_id):
                assert cell.source.count(mistake["find"]) == 1, mistake
                cell.source = cell.source.replace(mistake["find"], mistake["replace"])
    return nb


def _last_solution(nb):
    return [c for c in nb.cells if notebook.is_solution_cell(c) and c.cell_type == "code"][-1]


def _exercise_points(slug, solution_id) -> float:
    """Points of the test cells between solution cell `solution_id` and the next one."""
    points, inside = 0.0, False
    for cell in _source(slug).cells:
        if notebook.is_solution_cell(cell):
            inside = notebook.nbgrader_meta(cell)["grade_id"] == solution_id
        elif inside and notebook.is_test_cell(cell):
            points += float(notebook.nbgrader_meta(cell)["points"])
    return points


def _submissions(slug):
    """(student, notebook or raw text, expected score) for one chapter."""
    total = sum(_tests(slug).values())
    yield "blank", _release(slug), 0.0
    yield "reference", _filled(slug), total
    if slug != SLUGS[0]:
        return
    mistakes = _mistakes(slug)
    assert all(m["fails"] for m in mistakes), f"{slug}: a mistake is listed as failing no test"
    mistakes = mistakes[:-1]  # the last exercise stays right: partial credit, not none
    lost = sum(_tests(slug)[g] for g in {g for m in mistakes for g in m["fails"]})
    assert 0 < lost < total, f"{slug}: the mistakes should cost some points, not all"
    yield "typical-mistakes", _filled(slug, mistakes), total - lost
    text = nbformat.writes(_filled(slug))
    yield "broken-json", text[: len(text) // 2], 0.0
    nb = _filled(slug)
    nb.cells = [c for c in nb.cells if not notebook.is_test_cell(c)]
    yield "deleted-tests", nb, total  # add_missing_cells restores them; the answers are right
    nb = _release(slug)
    for cell in nb.cells:
        if notebook.is_test_cell(cell):
            cell.source = "pass  # tests removed by the student"
    yield "edited-tests", nb, 0.0  # nbgrader grades with the original tests
    nb = _filled(slug)
    last = _last_solution(nb)  # the loop stops its functions from being defined
    last.source = "while True:\n    pass\n" + last.source
    yield "infinite-loop", nb, total - _exercise_points(slug, notebook.nbgrader_meta(last)["grade_id"])
    nb = _filled(slug)
    _last_solution(nb).source = "import os\nos._exit(1)\n"
    yield "kernel-dies", nb, 0.0  # nbgrader cannot finish the notebook, so records nothing


def _course(root: Path, submissions: dict) -> tuple[Path, dict]:
    """A course folder holding `submissions` ({slug: [(student, notebook, score)]}); returns it
    and the expected scores."""
    root.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", root)
    expected = {}
    for slug, subs in submissions.items():
        shutil.copytree(ROOT / "solutions" / slug, root / "solutions" / slug)
        for student, nb, score in subs:
            path = root / "submitted" / student / slug / f"{slug}.ipynb"
            path.parent.mkdir(parents=True)
            path.write_text(nb if isinstance(nb, str) else nbformat.writes(nb))
            expected[student, slug] = score
    return root, expected


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grading")
    subs = {slug: list(_submissions(slug)) for slug in SLUGS}
    courses = [_course(tmp / "course", subs)]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    procs = [subprocess.Popen([sys.executable, "-m", "rnnkit.cli", "grade", "submitted",
                               "--course-dir", str(course), "--timeout", str(CELL_TIMEOUT),
                               "--workers", str(WORKERS), "--csv", str(course / "grades.csv")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for course, _ in courses]
    outputs = [p.communicate(timeout=2400) for p in procs]
    expected, rows, stdout = {}, {}, ""
    for (course, want), proc, (out, err) in zip(courses, procs, outputs):
        print(out[-8000:], err[-3000:])
        stdout += out
        expected.update(want)
        with open(course / "grades.csv", newline="") as fh:
            rows.update({(r["student_id"], r["assignment"]): float(r["score"])
                         for r in csv.DictReader(fh)})
    return courses, [p.returncode for p in procs], stdout, expected, rows


def test_every_submission_scores_exactly_as_expected(graded):
    """Each submission's score in the exported CSV equals the score worked out for it."""
    *_, expected, rows = graded
    wrong = {k: (rows.get(k), v) for k, v in expected.items() if rows.get(k) != v}
    assert not wrong, f"(student, chapter): (got, expected) {wrong}"


def test_broken_submissions_are_reported_by_name_and_the_run_finishes(graded):
    """Invalid JSON and a dead kernel are named in the report; every other one is graded."""
    _, returncodes, stdout, expected, _ = graded
    assert returncodes[0] == 1, "some submissions were not graded, so the exit status is 1"
    assert all(rc == 0 for rc in returncodes[1:]), returncodes
    assert f"broken-json/{SLUGS[0]}: NOT GRADED" in stdout
    assert "not a valid notebook" in stdout
    assert f"kernel-dies/{SLUGS[0]}: NOT GRADED" in stdout
    graded_lines = [ln for ln in stdout.splitlines() if ln.startswith("  ") and ": graded (" in ln]
    assert len(graded_lines) == len(expected) - 2


def test_honest_submissions_are_never_flagged(graded):
    """Blank, reference and typical-mistake submissions of every chapter, graded in the sandbox
    with every tamper check on, raise no flag (the CSV's `flagged` column is empty)."""
    flagged = {}
    for course, want in graded[0]:
        with open(course / "grades.csv", newline="") as fh:
            flagged.update({(r["student_id"], r["assignment"]): r["flagged"]
                            for r in csv.DictReader(fh) if r["flagged"]})
    assert not flagged, flagged


def test_feedback_html_is_written_for_graded_submissions(graded):
    """Feedback pages exist for the reference submission of every chapter."""
    for course, want in graded[0]:
        for slug in {slug for _, slug in want}:
            page = course / "feedback" / "reference" / slug / f"{slug}.html"
            assert page.is_file(), page


def test_every_graded_cell_discriminates(graded):
    """Every graded cell passes on the reference solution and fails on the blank release."""
    from nbgrader.api import Gradebook

    for course, want in graded[0]:
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            for slug in {slug for _, slug in want}:
                for grade_id, points in _tests(slug).items():
                    ref = gb.find_grade(grade_id, slug, slug, "reference")
                    blank = gb.find_grade(grade_id, slug, slug, "blank")
                    assert ref.score == points, f"{slug}:{grade_id} fails on the reference"
                    assert blank.score == 0, f"{slug}:{grade_id} passes on the blank exercise"


def test_every_exercise_has_a_typical_mistake():
    """The mistakes file covers every solution cell of every chapter."""
    for slug in SLUGS:
        solutions = {notebook.nbgrader_meta(c)["grade_id"] for c in _source(slug).cells
                     if notebook.is_solution_cell(c) and c.cell_type == "code"}
        covered = {m["solution"] for m in _mistakes(slug)}
        assert solutions <= covered, f"{slug}: no typical mistake for {solutions - covered}"
