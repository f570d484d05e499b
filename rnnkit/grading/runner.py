"""``rnnkit grade``: grade a folder of submissions with nbgrader, one submission at a time.

Each submission's code runs in the sandbox (sandbox.py) and is checked for tampering
(tamper.py, probe.py, the kernel's audit hook); nbgrader computes and saves the scores outside
it. ``--no-sandbox`` runs kernels unisolated, for the course's own trusted notebooks.

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
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import notebook
from . import sandbox
from .execute import FLAG_PREFIX


@dataclass
class Outcome:
    student: str
    slug: str
    graded: bool
    seconds: float
    problem: str = ""
    log: list[str] = field(default_factory=list)
    peak_memory_mb: float | None = None


def add_arguments(parser) -> None:
    parser.add_argument("submitted", nargs="?", default="submitted",
                        help="folder of <student>/<slug>/<slug>.ipynb (default: submitted)")
    parser.add_argument("--course-dir", default=".",
                        help="folder holding nbgrader_config.py and solutions/ (default: .)")
    parser.add_argument("--db-url", default=None,
                        help="gradebook URL, e.g. postgresql+psycopg://user@host/db "
                             "(default: nbgrader_config.py's, sqlite:///gradebook.db)")
    parser.add_argument("--csv", default="grades.csv", help="grades CSV to write (default: grades.csv)")
    parser.add_argument("--timeout", type=int, default=None,
                        help="seconds a single cell may run (default: nbgrader_config.py's)")
    defaults = sandbox.Limits()
    parser.add_argument("--submission-timeout", type=int, default=defaults.submission_seconds,
                        help="seconds one whole submission may take before it is stopped "
                             f"(default: {defaults.submission_seconds})")
    parser.add_argument("--memory-mb", type=int, default=defaults.memory_mb,
                        help=f"memory of one submission's sandbox (default: {defaults.memory_mb})")
    parser.add_argument("--max-processes", type=int, default=defaults.processes,
                        help="processes and threads one submission may run at once "
                             f"(default: {defaults.processes})")
    parser.add_argument("--cpu-seconds", type=int, default=defaults.cpu_seconds,
                        help=f"CPU seconds of any one process (default: {defaults.cpu_seconds})")
    parser.add_argument("--output-mb", type=float, default=defaults.output_mb,
                        help=f"notebook output kept per submission (default: {defaults.output_mb})")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run kernels WITHOUT isolation, with your rights: only for trusted "
                             "notebooks, such as the course's own tests")
    parser.add_argument("--no-feedback", action="store_true", help="skip the feedback HTML")


def _env(extra=None) -> dict:
    """This environment's bin/ first on PATH: nbgrader runs `alembic`, kernels run `python`."""
    bin_dir = os.path.dirname(sys.executable)
    return {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
            "PYTHONUNBUFFERED": "1", **(extra or {})}


def _nbgrader(args: list[str], course: Path, options: list[str], limit: float, env=None,
              module: str = "nbgrader"):
    """Run one nbgrader command in its own process; returns (returncode, log lines)."""
    cmd = [sys.executable, "-m", module, *args, f"--CourseDirectory.root={course}", *options]
    try:
        proc = subprocess.run(cmd, cwd=course, capture_output=True, text=True, timeout=limit,
                              env=_env(env))
    except subprocess.TimeoutExpired:
        return None, [f"stopped after {limit:g} s (the whole submission's time limit)"]
    return proc.returncode, (proc.stdout + proc.stderr).splitlines()


def _sandbox_env(course: Path, limits: sandbox.Limits, use_sandbox: bool,
                 groups: sandbox.Cgroups | None) -> dict:
    """What the trusted nbgrader process needs to know to start the sandboxed kernel."""
    env = {"RNNKIT_SANDBOX": "1" if use_sandbox else "0",
           "RNNKIT_SOURCE_DIR": str(course / "solutions"),
           **{f"RNNKIT_LIMIT_{k.upper()}": v for k, v in limits.as_env().items()}}
    if groups is not None:
        env["RNNKIT_CGROUP"] = groups.name
        if "pids" not in groups.paths:
            env["RNNKIT_NPROC"] = str(limits.processes)
        if "memory" not in groups.paths:  # address space is a cruder bound than memory
            env["RNNKIT_AS_MB"] = str(2 * limits.memory_mb)  # TF + torch map ~1.9 GB at import
    return env


def flags(db_url: str) -> dict[tuple[str, str], str]:
    """(student, chapter) -> the reasons a submission was flagged for review, from the gradebook."""
    from nbgrader.api import Comment, Gradebook

    with Gradebook(db_url) as gb:
        found = gb.db.query(Comment).filter(Comment.auto_comment.like(FLAG_PREFIX + "%")).all()
        return {(c.notebook.student.id, c.notebook.assignment.name):
                c.auto_comment[len(FLAG_PREFIX):] for c in found}


def _course_config(course: Path):
    """The CourseDirectory section of the course's nbgrader_config.py."""
    from traitlets.config import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config().CourseDirectory


def _db_url(course: Path) -> str:
    """The gradebook URL nbgrader_config.py sets, resolved against the course directory."""
    url = _course_config(course).get("db_url", "sqlite:///gradebook.db")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        url = f"sqlite:///{course / url[len('sqlite:///'):]}"
    return url


def _course_id(course: Path) -> str:
    """The course id nbgrader_config.py sets ("" if none, as in nbgrader)."""
    return _course_config(course).get("course_id", "")


GRADEBOOK_LOCK = 0x726E6E6B6974  # any fixed 64-bit key: PostgreSQL's advisory lock of this step


def prepare_gradebook(db_url: str, course_id: str, students) -> None:
    """Create the gradebook's tables, its courses and every student, one `rnnkit grade` at a time.

    nbgrader does this when it opens a gradebook, looking first and inserting after: two runs
    doing it at once on one PostgreSQL gradebook both insert, and one fails (a unique violation
    on the tables' types, the alembic version, a course or a student). Here each run holds a
    PostgreSQL advisory lock while it does it, so the second waits and then finds everything
    there, and no nbgrader process inserts any of it later. (A SQLite gradebook is one file per
    course folder; no lock.)
    """
    import sqlalchemy
    from nbgrader.api import Gradebook

    engine = sqlalchemy.create_engine(db_url, poolclass=sqlalchemy.pool.NullPool)
    with engine.begin() as lock:  # the lock ends with this transaction
        if engine.dialect.name == "postgresql":
            lock.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"),
                         {"key": GRADEBOOK_LOCK})
        with Gradebook(db_url, course_id) as gb:
            gb.check_course("default_course")  # what Gradebook(url) opens: flags(), FlagForReview
            for student in students:
                gb.update_or_create_student(student)


# What nbgrader's log says when a submission could not be executed, in words for an instructor.
KNOWN_ERRORS = {
    "CellTimeoutError": "a cell ran past its time limit and did not stop when interrupted",
    "DeadKernelError": "the kernel died (the submission crashed it, or it was killed)",
}


def _errors(log: list[str]) -> str:
    """One line saying why nbgrader could not grade a submission."""
    text = "\n".join(log)
    for marker, words in KNOWN_ERRORS.items():
        if marker in text:
            return words
    keep = [ln.split("]", 1)[-1].strip() for ln in log if "| ERROR" in ln or "Error:" in ln
            or "stopped after" in ln]
    return "; ".join(dict.fromkeys(k for k in keep if k))[:300] or "see the nbgrader log"


def _find(submitted: Path):
    """(student, slug, path) for every submission folder, sorted."""
    for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
        for slug_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            yield student_dir.name, slug_dir.name, slug_dir / f"{slug_dir.name}.ipynb"


def register(course: Path, slugs, students, options, db_url, limit) -> None:
    """Register each chapter (and its graded cells) and every student in the gradebook."""
    # Before any nbgrader process first opens the gradebook; every student appears in the CSV.
    prepare_gradebook(db_url or _db_url(course), _course_id(course), students)
    with tempfile.TemporaryDirectory() as scratch:
        for slug in slugs:
            rc, log = _nbgrader(["generate_assignment", slug, "--force",
                                 f"--CourseDirectory.release_directory={scratch}"],
                                course, options, limit)
            if rc != 0:
                raise RuntimeError(f"could not register {slug}: {_errors(log)}")


def grade_one(course: Path, student: str, slug: str, path: Path, options: list[str],
              limits: sandbox.Limits, use_sandbox: bool = True) -> Outcome:
    """Autograde one submission in its own nbgrader process (and sandbox); never raises."""
    start = time.perf_counter()
    problem, peak, out_of_memory = "", None, False
    try:
        notebook.read(path)
    except notebook.NotebookError as exc:
        problem = str(exc).replace(str(course) + os.sep, "")
    if not problem:
        target = course / "autograded" / student / slug
        shutil.rmtree(target, ignore_errors=True)
        groups = sandbox.Cgroups.create(limits) if use_sandbox else None
        try:
            rc, log = _nbgrader([slug, "--student", student, "--create", "--force"],
                                course, options, limits.submission_seconds,
                                env=_sandbox_env(course, limits, use_sandbox, groups),
                                module="rnnkit.grading.autograde")
            out_of_memory = groups is not None and groups.hit_memory_limit()
            peak = groups.peak_memory_mb() if groups else None
        finally:
            if groups is not None:
                groups.remove()  # whatever is still running in the sandbox is killed
        if rc != 0 or not (target / f"{slug}.ipynb").is_file():
            problem = _errors(log)
            if out_of_memory:
                problem = (f"ran out of memory (over the {limits.memory_mb} MB limit; the "
                           f"kernel was killed): {problem}")
    return Outcome(student, slug, not problem, time.perf_counter() - start, problem,
                   peak_memory_mb=peak)


def grade(course: Path, submitted: Path, db_url=None, timeout=None, submission_timeout=None,
          feedback=True, echo=print, limits: sandbox.Limits | None = None,
          use_sandbox: bool = True) -> list[Outcome]:
    """Grade every submission under ``submitted``; never raises for a bad submission.

    With ``use_sandbox`` (the default) it raises SandboxUnavailable, before grading anything,
    when the sandbox cannot start on this machine.
    """
    limits = limits or sandbox.Limits()
    if submission_timeout:
        limits = dataclasses.replace(limits, submission_seconds=submission_timeout)
    submission_timeout = limits.submission_seconds
    if use_sandbox:
        sandbox.check_available()
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
    register(course, slugs, students, options, db_url, submission_timeout)
    outcomes = []
    for student, slug, path in found:
        outcome = grade_one(course, student, slug, path, options, limits, use_sandbox)
        outcomes.append(outcome)
        status = "graded" if outcome.graded else f"NOT GRADED: {outcome.problem}"
        memory = f", peak {outcome.peak_memory_mb:.0f} MB" if outcome.peak_memory_mb else ""
        echo(f"  {student}/{slug}: {status} ({outcome.seconds:.1f} s{memory})")

    if feedback:
        for slug in slugs:
            rc, log = _nbgrader(["generate_feedback", slug, "--force"], course, options,
                                submission_timeout)
            if rc != 0:
                echo(f"  feedback for {slug} incomplete: {_errors(log)}")
    return outcomes


def export(course: Path, csv_path: Path, db_url=None, flagged=None) -> list[dict]:
    """nbgrader's CSV export, plus a `flagged` column (the reasons, empty when none)."""
    options = [f"--CourseDirectory.db_url={db_url}"] if db_url else []
    rc, log = _nbgrader(["export", f"--to={csv_path.resolve()}"], course.resolve(), options, 300)
    if rc != 0:
        raise RuntimeError(f"nbgrader export failed: {_errors(log)}")
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if flagged is None:
        flagged = flags(db_url or _db_url(course.resolve()))
    for row in rows:
        row["flagged"] = flagged.get((row["student_id"], row["assignment"]), "")
    if rows:
        with open(csv_path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return rows


def run(args) -> int:
    # nbgrader's Gradebook runs `alembic` from this environment, also in this process.
    os.environ["PATH"] = _env()["PATH"]
    course = Path(args.course_dir)
    limits = sandbox.Limits(memory_mb=args.memory_mb, processes=args.max_processes,
                            cpu_seconds=args.cpu_seconds, output_mb=args.output_mb,
                            submission_seconds=args.submission_timeout,
                            **({"cell_seconds": args.timeout} if args.timeout else {}))
    submitted = course / args.submitted if not Path(args.submitted).is_absolute() else Path(args.submitted)
    if not submitted.is_dir():
        print(f"error: no folder {submitted}; put submissions in "
              f"submitted/<student>/<slug>/<slug>.ipynb", file=sys.stderr)
        return 2
    if args.no_sandbox:
        print("WARNING: --no-sandbox: submissions run WITHOUT isolation, with your rights and "
              "your files in reach. Use it only for trusted notebooks.", flush=True)
    else:
        print(f"Sandbox: bubblewrap, user nobody, no network; {limits.memory_mb} MB, "
              f"{limits.processes} processes, {limits.submission_seconds} s per submission",
              flush=True)
    print(f"Grading {submitted} with nbgrader ...", flush=True)
    try:
        outcomes = grade(course, submitted, args.db_url, args.timeout, args.submission_timeout,
                         feedback=not args.no_feedback, limits=limits,
                         use_sandbox=not args.no_sandbox)
    except sandbox.SandboxUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    db_url = args.db_url or _db_url(course.resolve())
    rows = export(course, Path(args.csv), args.db_url, flags(db_url))
    problems = {(o.student, o.slug): o.problem for o in outcomes if not o.graded}
    print(f"\n{'student':<20} {'chapter':<22} {'score':>11}  note")
    for row in rows:
        key = (row["student_id"], row["assignment"])
        note = "NOT GRADED: " + problems[key] if key in problems else \
            (f"flagged: {row['flagged']}" if row.get("flagged") else "")
        score = f"{float(row['score']):g}/{float(row['max_score']):g}"
        print(f"{row['student_id']:<20} {row['assignment']:<22} {score:>11}  {note}"[:300])
    flagged = sum(bool(r.get("flagged")) for r in rows)
    print(f"\n{len(outcomes) - len(problems)} graded, {len(problems)} not graded, {flagged} "
          f"flagged for review (in nbgrader's formgrader: needs manual grade); grades in "
          f"{args.csv}, feedback in {course / 'feedback'}")
    return 0 if not problems else 1
