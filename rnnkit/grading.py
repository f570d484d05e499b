"""``rnnkit grade``: grade a folder of submissions with nbgrader, one submission at a time.

Expected layout (nbgrader's), in the course directory (the repo root by default)::

    submitted/<student>/<slug>/<slug>.ipynb

For each chapter found there the command registers the assignment from ``solutions/``
(``nbgrader generate_assignment`` into a scratch release folder, so ``chapters/`` is not
touched), then runs ``nbgrader autograde`` once per submission in its own process, with a
wall-clock limit on top of nbgrader's per-cell timeout. A submission that is not valid JSON,
that hangs, or whose kernel dies is reported by name and scored as nbgrader scores it
(a submission nbgrader could not grade counts 0); the others are graded regardless. Then it
writes feedback HTML (``feedback/``), exports the grades CSV and prints a score table.
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import notebook


@dataclass
class Outcome:
    student: str
    slug: str
    graded: bool
    seconds: float
    problem: str = ""
    log: list[str] = field(default_factory=list)


def add_arguments(parser) -> None:
    parser.add_argument("submitted", nargs="?", default="submitted",
                        help="folder of <student>/<slug>/<slug>.ipynb (default: submitted)")
    parser.add_argument("--course-dir", default=".",
                        help="folder holding nbgrader_config.py and solutions/ (default: .)")
    parser.add_argument("--db-url", default=None,
                        help="gradebook URL (default: nbgrader_config.py's, sqlite:///gradebook.db)")
    parser.add_argument("--csv", default="grades.csv", help="grades CSV to write (default: grades.csv)")
    parser.add_argument("--timeout", type=int, default=None,
                        help="seconds a single cell may run (default: nbgrader_config.py's)")
    parser.add_argument("--submission-timeout", type=int, default=600,
                        help="seconds one whole submission may take before it is stopped")
    parser.add_argument("--no-feedback", action="store_true", help="skip the feedback HTML")


def _env() -> dict:
    """This environment's bin/ first on PATH: nbgrader runs `alembic`, kernels run `python`."""
    bin_dir = os.path.dirname(sys.executable)
    return {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
            "PYTHONUNBUFFERED": "1"}


def _nbgrader(args: list[str], course: Path, options: list[str], limit: float):
    """Run one nbgrader command in its own process; returns (returncode, log lines)."""
    cmd = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}", *options]
    try:
        proc = subprocess.run(cmd, cwd=course, capture_output=True, text=True, timeout=limit,
                              env=_env())
    except subprocess.TimeoutExpired:
        return None, [f"stopped after {limit:g} s (the whole submission's time limit)"]
    return proc.returncode, (proc.stdout + proc.stderr).splitlines()


def _db_url(course: Path) -> str:
    """The gradebook URL nbgrader_config.py sets, resolved against the course directory."""
    from traitlets.config import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    url = config.CourseDirectory.get("db_url", "sqlite:///gradebook.db")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        url = f"sqlite:///{course / url[len('sqlite:///'):]}"
    return url


def _errors(log: list[str]) -> str:
    keep = [ln.split("]", 1)[-1].strip() for ln in log if "| ERROR" in ln or "Error:" in ln]
    return "; ".join(dict.fromkeys(k for k in keep if k))[:300] or "see the nbgrader log"


def _find(submitted: Path):
    """(student, slug, path) for every submission folder, sorted."""
    for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
        for slug_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            yield student_dir.name, slug_dir.name, slug_dir / f"{slug_dir.name}.ipynb"


def grade(course: Path, submitted: Path, db_url=None, timeout=None, submission_timeout=600,
          feedback=True, echo=print) -> list[Outcome]:
    """Grade every submission under ``submitted``; never raises for a bad submission."""
    course, submitted = course.resolve(), submitted.resolve()
    options = [f"--CourseDirectory.submitted_directory={submitted.name}"]
    if submitted.parent != course:
        raise ValueError(f"submissions must sit directly in the course directory {course}; "
                         f"received {submitted}")
    if db_url:
        options.append(f"--CourseDirectory.db_url={db_url}")
    if timeout:
        options.append(f"--Execute.timeout={timeout}")
    found = list(_find(submitted))
    slugs = sorted({slug for _, slug, _ in found})
    students = sorted({s for s, _, _ in found})
    missing = [s for s in slugs if not (course / "solutions" / s / f"{s}.ipynb").is_file()]
    if missing:
        raise ValueError(f"no source notebook for {missing} in {course / 'solutions'}; "
                         f"chapter folders must be named like solutions/01_rnn_vs_cnn")
    with tempfile.TemporaryDirectory() as scratch:
        for slug in slugs:  # registers the assignment and its graded cells in the gradebook
            rc, log = _nbgrader(["generate_assignment", slug, "--force",
                                 f"--CourseDirectory.release_directory={scratch}"],
                                course, options, submission_timeout)
            if rc != 0:
                raise RuntimeError(f"could not register {slug}: {_errors(log)}")
    from nbgrader.api import Gradebook

    with Gradebook(db_url or _db_url(course)) as gb:  # every student appears in the CSV
        for student in students:
            gb.update_or_create_student(student)

    outcomes = []
    for student, slug, path in found:
        start = time.perf_counter()
        problem = ""
        try:
            notebook.read(path)
        except notebook.NotebookError as exc:
            problem = str(exc).replace(str(course) + os.sep, "")
        if not problem:
            target = course / "autograded" / student / slug
            shutil.rmtree(target, ignore_errors=True)
            rc, log = _nbgrader(["autograde", slug, "--student", student, "--create", "--force"],
                                course, options, submission_timeout)
            if rc != 0 or not (target / f"{slug}.ipynb").is_file():
                problem = _errors(log)
        outcome = Outcome(student, slug, not problem, time.perf_counter() - start, problem)
        outcomes.append(outcome)
        status = "graded" if outcome.graded else f"NOT GRADED: {problem}"
        echo(f"  {student}/{slug}: {status} ({outcome.seconds:.1f} s)")

    if feedback:
        for slug in slugs:
            rc, log = _nbgrader(["generate_feedback", slug, "--force"], course, options,
                                submission_timeout)
            if rc != 0:
                echo(f"  feedback for {slug} incomplete: {_errors(log)}")
    return outcomes


def export(course: Path, csv_path: Path, db_url=None) -> list[dict]:
    options = [f"--CourseDirectory.db_url={db_url}"] if db_url else []
    rc, log = _nbgrader(["export", f"--to={csv_path.resolve()}"], course.resolve(), options, 300)
    if rc != 0:
        raise RuntimeError(f"nbgrader export failed: {_errors(log)}")
    with open(csv_path, newline="") as fh:
        return list(csv.DictReader(fh))


def run(args) -> int:
    course = Path(args.course_dir)
    submitted = course / args.submitted if not Path(args.submitted).is_absolute() else Path(args.submitted)
    if not submitted.is_dir():
        print(f"error: no folder {submitted}; put submissions in "
              f"submitted/<student>/<slug>/<slug>.ipynb", file=sys.stderr)
        return 2
    print(f"Grading {submitted} with nbgrader ...", flush=True)
    outcomes = grade(course, submitted, args.db_url, args.timeout, args.submission_timeout,
                     feedback=not args.no_feedback)
    rows = export(course, Path(args.csv), args.db_url)
    problems = {(o.student, o.slug): o.problem for o in outcomes if not o.graded}
    print(f"\n{'student':<20} {'chapter':<22} {'score':>11}  note")
    for row in rows:
        key = (row["student_id"], row["assignment"])
        note = "NOT GRADED: " + problems[key] if key in problems else ""
        score = f"{float(row['score']):g}/{float(row['max_score']):g}"
        print(f"{row['student_id']:<20} {row['assignment']:<22} {score:>11}  {note}"[:200])
    print(f"\n{len(outcomes) - len(problems)} graded, {len(problems)} not graded; "
          f"grades in {args.csv}, feedback in {course / 'feedback'}")
    return 0 if not problems else 1
