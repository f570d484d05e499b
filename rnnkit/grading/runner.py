"""``rnnkit grade``: grade a folder of submissions with nbgrader, on Dask workers.

Each submission's code runs in the sandbox (sandbox.py) and is checked for tampering
(tamper.py, probe.py, the kernel's audit hook); nbgrader computes and saves the scores outside
it. ``--no-sandbox`` runs kernels unisolated, for the course's own trusted notebooks.

Expected layout (nbgrader's), in the course directory (the repo root by default)::

    submitted/<student>/<slug>/<slug>.ipynb

For each chapter found there the command registers the assignment from ``solutions/``
(``nbgrader generate_assignment`` into a scratch release folder, so ``chapters/`` is not
touched). Then every submission is one task on a Dask cluster (parallel.py): a local one of
``--workers`` processes, or a running one at ``--scheduler``. The task grades it in its own
nbgrader process and sandbox with a wall-clock limit (worker.py) and returns the executed
notebook; this process commits the results to the gradebook one at a time, in a fixed order
(gradebook.py). A submission that is not valid JSON, that hangs, or whose kernel dies is
reported by name and scored as nbgrader scores it (one nbgrader could not grade counts 0); the
others are graded regardless. Submissions graded before and unchanged since are skipped, so
rerunning an interrupted run finishes it. Then it writes feedback HTML (``feedback/``),
exports the grades CSV and prints a score table.
"""
from __future__ import annotations

import csv
import dataclasses
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from . import gradebook, parallel, sandbox
from .gradebook import flags, prepare_gradebook
from .worker import Job, Outcome, Result, _env, _errors, _nbgrader, content_key, grade_one

__all__ = ["Outcome", "add_arguments", "export", "flags", "grade", "grade_one",
           "prepare_gradebook", "register", "run"]


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
    parser.add_argument("--workers", type=int, default=None,
                        help="grade on a local Dask cluster of this many single-threaded worker "
                             f"processes (default: one per core, here {parallel.cores()})")
    parser.add_argument("--scheduler", default=None, metavar="tcp://HOST:8786",
                        help="grade on the running Dask cluster at this address instead (its "
                             "workers need this environment and bubblewrap; see the README)")
    parser.add_argument("--retries", type=int, default=2,
                        help="how many more times a submission is tried after its worker died "
                             "(killed, out of memory) before it is reported (default: 2)")
    parser.add_argument("--chapters", type=lambda text: [t for t in text.split(",") if t],
                        default=None, metavar="SLUG,SLUG",
                        help="grade only these chapters' submissions, e.g. 01_rnn_vs_cnn,04_lstm "
                             "(default: every chapter in the submissions folder)")
    parser.add_argument("--regrade", action="store_true",
                        help="grade every submission again, also those graded before and "
                             "unchanged since (by default they are skipped)")


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


def _jobs(course: Path, found, options, limits, use_sandbox):
    """One Job per submission, in the order of `found`."""
    config = (course / "nbgrader_config.py").read_text()
    sources = {}
    for student, slug, path in found:
        if slug not in sources:
            sources[slug] = (course / "solutions" / slug / f"{slug}.ipynb").read_bytes()
        data = path.read_bytes() if path.is_file() else b""
        stamp = path.parent / "timestamp.txt"  # nbgrader's late penalty reads it
        key = content_key(data, sources[slug], stamp.read_bytes() if stamp.is_file() else b"")
        yield Job(student, slug, data, sources[slug], config, options, limits, use_sandbox, key)


def _committer(course: Path, options: list[str], outcomes: dict, attempts: int = 3):
    """The one place results reach the gradebook (called in the submissions' order)."""
    def commit(result: Result) -> None:
        problem, start = result.problem, time.perf_counter()
        if not result.unreadable:  # nbgrader never sees a file that is not a notebook
            for attempt in range(attempts):
                graded, log = gradebook.commit(course, result, options)
                if not any("error accessing the nbgrader database" in line for line in log):
                    break
                if attempt == attempts - 1:
                    raise GradebookUnavailable(
                        f"could not write {result.student}/{result.slug} to the gradebook "
                        f"({_database_error(log)}), {attempts} tries. Everything graded before "
                        f"it is saved; run the same command again when the gradebook is back.")
                time.sleep(2 ** attempt)
            if result.graded and not graded:
                problem = _errors(log)
        outcomes[result.student, result.slug] = Outcome(
            result.student, result.slug, result.graded and not problem, result.seconds,
            problem, peak_memory_mb=result.peak_memory_mb, unreadable=result.unreadable,
            timings={**result.timings, "commit": time.perf_counter() - start})
    return commit


def _database_error(log: list[str]) -> str:
    """The driver's own words from a traceback in nbgrader's log (connection refused, ...)."""
    found = re.findall(r"^\w+(?:\.\w+)*(?:Error|Exception): (.+)$", "\n".join(log), re.M)
    return found[-1][:300] if found else "the database did not answer"


class GradebookUnavailable(RuntimeError):
    """The gradebook could not be written (down, or restarted); nothing half-written stays."""


def grade(course: Path, submitted: Path, db_url=None, timeout=None, submission_timeout=None,
          feedback=True, echo=print, limits: sandbox.Limits | None = None,
          use_sandbox: bool = True, workers: int | None = None, scheduler: str | None = None,
          retries: int = 2, regrade: bool = False, stats: dict | None = None,
          chapters=None) -> list[Outcome]:
    """Grade every submission under ``submitted``; never raises for a bad submission.

    Only the `chapters` given, if any. `workers` local Dask worker processes (default: one
    per core), or the cluster at `scheduler`; a task whose worker died is tried `retries`
    more times. Submissions graded before and unchanged since are skipped unless `regrade`. With ``use_sandbox`` (the
    default) it raises SandboxUnavailable, before grading anything, when the sandbox cannot
    start on this machine. `stats`, if given, receives the seconds of each phase of the run.
    The local cluster's workers are spawned processes: a script that calls this needs the
    usual ``if __name__ == "__main__":`` guard.
    """
    stats = {} if stats is None else stats
    clock = time.perf_counter()
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
    cell_options = [f"--Execute.timeout={timeout}"] if timeout else []
    found = [f for f in _find(submitted) if chapters is None or f[1] in chapters]
    slugs = sorted({slug for _, slug, _ in found})
    if chapters and set(chapters) - set(slugs):
        raise ValueError(f"no submissions for {sorted(set(chapters) - set(slugs))} in "
                         f"{submitted}; chapters found there: "
                         f"{sorted({f[1] for f in _find(submitted)})}")
    students = sorted({s for s, _, _ in found})
    missing = [s for s in slugs if not (course / "solutions" / s / f"{s}.ipynb").is_file()]
    if missing:
        raise ValueError(f"no source notebook for {missing} in {course / 'solutions'}; "
                         f"chapter folders must be named like solutions/01_rnn_vs_cnn")
    url = db_url or _db_url(course)
    register(course, slugs, students, options, db_url, submission_timeout)
    stats["register"] = time.perf_counter() - clock
    jobs = list(_jobs(course, found, cell_options, limits, use_sandbox))
    outcomes: dict[tuple[str, str], Outcome] = {}
    recorded = gradebook.submissions(url)
    todo = []
    for job in jobs:
        if not regrade and gradebook.already_graded(course, job.student, job.slug, job.key,
                                                    recorded):
            outcomes[job.student, job.slug] = Outcome(job.student, job.slug, True, 0.0,
                                                      skipped=True)
            echo(f"  {job.student}/{job.slug}: unchanged since it was graded, skipped")
        else:
            todo.append(job)
    if todo:
        clock = time.perf_counter()
        snapshot = gradebook.snapshot(url, _course_id(course), slugs)
        commit = _committer(course, options + cell_options, outcomes)
        stats["snapshot"] = time.perf_counter() - clock
        with parallel.client(workers, scheduler, retries) as dask_client:
            stats["cluster_start"] = time.perf_counter() - clock - stats["snapshot"]
            clock = time.perf_counter()
            parallel.run(dask_client, todo, snapshot, commit, echo, retries)
            stats["grading"] = time.perf_counter() - clock

    if feedback:
        for slug in slugs:
            rc, log = _nbgrader(["generate_feedback", slug, "--force"], course, options,
                                submission_timeout)
            if rc != 0:
                echo(f"  feedback for {slug} incomplete: {_errors(log)}")
    return [outcomes[job.student, job.slug] for job in jobs]


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
    where = f"the Dask cluster at {args.scheduler}" if args.scheduler else \
        f"{args.workers or parallel.cores()} local worker processes"
    print(f"Grading {submitted} with nbgrader on {where} ...", flush=True)
    try:
        outcomes = grade(course, submitted, args.db_url, args.timeout, args.submission_timeout,
                         feedback=not args.no_feedback, limits=limits,
                         use_sandbox=not args.no_sandbox, workers=args.workers,
                         scheduler=args.scheduler, retries=args.retries, regrade=args.regrade,
                         chapters=args.chapters,
                         echo=lambda line: print(line, flush=True))
    except (sandbox.SandboxUnavailable, GradebookUnavailable, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: what was graded is saved; run the same command again to finish "
              "(submissions graded and unchanged are not graded again)", file=sys.stderr)
        return 130
    db_url = args.db_url or _db_url(course.resolve())
    try:
        rows = export(course, Path(args.csv), args.db_url, flags(db_url))
    except Exception as exc:  # the gradebook went away after grading: the grades are in it
        print(f"error: could not export the grades ({type(exc).__name__}: {exc}); everything "
              f"graded is saved in the gradebook; run the same command again to export",
              file=sys.stderr)
        return 2
    problems = {(o.student, o.slug): o.problem for o in outcomes if not o.graded}
    print(f"\n{'student':<20} {'chapter':<22} {'score':>11}  note")
    for row in rows:
        key = (row["student_id"], row["assignment"])
        note = "NOT GRADED: " + problems[key] if key in problems else \
            (f"flagged: {row['flagged']}" if row.get("flagged") else "")
        score = f"{float(row['score']):g}/{float(row['max_score']):g}"
        print(f"{row['student_id']:<20} {row['assignment']:<22} {score:>11}  {note}"[:300])
    flagged = sum(bool(r.get("flagged")) for r in rows)
    skipped = sum(o.skipped for o in outcomes)
    print(f"\n{len(outcomes) - len(problems) - skipped} graded, {skipped} unchanged since "
          f"graded (skipped), {len(problems)} not graded, {flagged} "
          f"flagged for review (in nbgrader's formgrader: needs manual grade); grades in "
          f"{args.csv}, feedback in {course / 'feedback'}")
    return 0 if not problems else 1
