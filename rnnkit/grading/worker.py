"""What runs where the submissions execute: one submission, sandboxed, in its own nbgrader process.

:func:`grade_one` autogrades one submission of a course folder (nbgrader's autograde with the
sandboxed execution of execute.py, in a process of its own with a wall-clock limit and its own
cgroups). :func:`execute` is the task a Dask worker runs (parallel.py): it rebuilds a private
course folder from the :class:`Job` alone, with a snapshot of the gradebook that holds only the
chapters' definitions (nbgrader's sanitising reads the test cells from it, and autograde writes
scores into it), grades the submission there and returns the executed notebook as a
:class:`Result`. Nothing a worker writes reaches the course's gradebook: the grader commits the
results itself (gradebook.py), one at a time, in a fixed order.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import notebook
from . import sandbox


@dataclass
class Outcome:
    student: str
    slug: str
    graded: bool
    seconds: float
    problem: str = ""
    log: list[str] = field(default_factory=list)
    peak_memory_mb: float | None = None
    unreadable: bool = False   # not a notebook at all: nbgrader never saw it
    skipped: bool = False      # graded by an earlier run and unchanged since
    timings: dict = field(default_factory=dict)  # seconds, by step (benchmarks/bench_workers.py)


@dataclass
class Job:
    """Everything a worker needs to grade one submission, and nothing of the course besides."""

    student: str
    slug: str
    notebook: bytes            # the submission, as handed in
    source: bytes              # the chapter's source notebook (the course's own cells, forbid lists)
    config: str                # the course's nbgrader_config.py
    options: list[str]         # nbgrader command-line options (cell timeout)
    limits: sandbox.Limits
    use_sandbox: bool = True
    key: str = ""              # content hash (submission + source): what "unchanged" means


@dataclass
class Result:
    """What comes back from a worker: the executed notebook, or why there is none."""

    student: str
    slug: str
    key: str
    executed: str | None       # the autograded notebook (JSON text), outputs included
    problem: str = ""          # why it was not graded ("" when it was)
    unreadable: bool = False   # not a notebook at all: nbgrader never saw it
    flags: list[dict] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    seconds: float = 0.0
    peak_memory_mb: float | None = None
    host: str = ""

    @property
    def graded(self) -> bool:
        return self.executed is not None


def content_key(submission: bytes, source: bytes, *extra: bytes) -> str:
    """The hash a resumed run compares: a changed submission or chapter is graded again."""
    digest = hashlib.sha256()
    for part in (submission, source, *extra):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def _env(extra=None) -> dict:
    """This environment's bin/ first on PATH: nbgrader runs `alembic`, kernels run `python`."""
    bin_dir = os.path.dirname(sys.executable)
    return {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
            "PYTHONUNBUFFERED": "1", **(extra or {})}


def _nbgrader(args: list[str], course: Path, options: list[str], limit: float, env=None,
              module: str = "nbgrader"):
    """Run one nbgrader command in its own process; returns (returncode, log lines).

    The process gets SIGKILL if the thread that started it dies (a Dask worker killed
    mid-task), and the sandbox under it goes with it (bwrap --die-with-parent).
    """
    cmd = [sys.executable, "-m", module, *args, f"--CourseDirectory.root={course}", *options]
    if shutil.which("setpriv"):
        cmd = ["setpriv", "--pdeathsig", "KILL", *cmd]
    try:
        proc = subprocess.run(cmd, cwd=course, capture_output=True, text=True, timeout=limit,
                              env=_env(env))
    except subprocess.TimeoutExpired:
        return None, [f"stopped after {limit:g} s (the whole submission's time limit)"]
    return proc.returncode, (proc.stdout + proc.stderr).splitlines()


_WARM = None


def _warm():
    """A multiprocessing forkserver that has imported nbgrader and the grading code once; each
    submission's nbgrader process is forked from it, saving those imports (~1.5 s) every time.
    None where this process may not have children of its own (a daemonic Dask worker)."""
    global _WARM
    import multiprocessing

    if multiprocessing.current_process().daemon:
        return None
    if _WARM is None:
        _WARM = multiprocessing.get_context("forkserver")
        _WARM.set_forkserver_preload(["rnnkit.grading.autograde"])
    return _WARM


def _autograde_child(argv: list[str], cwd: str, env: dict, log: str) -> None:
    """In the forked process: what `python -m rnnkit.grading.autograde ARGV` would do."""
    import ctypes
    import signal

    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the forkserver
    if os.getppid() == 1:  # ... which is gone already
        os._exit(1)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    from . import autograde

    code = 0
    try:
        autograde.main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:  # noqa: BLE001 - reported in the log, like an uncaught error
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _autograde(args: list[str], course: Path, options: list[str], limit: float, env: dict):
    """nbgrader's autograde (autograde.py) for one submission, in a process of its own with a
    wall-clock limit; returns (returncode or None if stopped, log lines). Forked from the warm
    server where there is one (the worker dies -> the server exits -> this process gets
    SIGKILL), else a new `python -m` process (which gets SIGKILL if its parent dies)."""
    context = _warm()
    if context is None:
        return _nbgrader(args, course, options, limit, env=env, module="rnnkit.grading.autograde")
    log = course / "autograde.log"
    proc = context.Process(target=_autograde_child, daemon=False,
                           args=([*args, f"--CourseDirectory.root={course}", *options],
                                 str(course), _env(env), str(log)))
    proc.start()
    proc.join(limit)
    stopped = proc.is_alive()
    if stopped:
        proc.kill()
        proc.join()
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    if stopped:
        return None, [*lines, f"stopped after {limit:g} s (the whole submission's time limit)"]
    return proc.exitcode, lines


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


def grade_one(course: Path, student: str, slug: str, path: Path, options: list[str],
              limits: sandbox.Limits, use_sandbox: bool = True, env=None) -> Outcome:
    """Autograde one submission in its own nbgrader process (and sandbox); never raises."""
    start = time.perf_counter()
    problem, peak, out_of_memory = "", None, False
    try:
        notebook.read(path)
    except notebook.NotebookError as exc:
        problem = str(exc).replace(str(course) + os.sep, "")
    unreadable = bool(problem)
    if not problem:
        target = course / "autograded" / student / slug
        shutil.rmtree(target, ignore_errors=True)
        groups = sandbox.Cgroups.create(limits) if use_sandbox else None
        try:
            rc, log = _autograde([slug, "--student", student, "--create", "--force"],
                                 course, options, limits.submission_seconds,
                                 env={**_sandbox_env(course, limits, use_sandbox, groups),
                                      **(env or {})})
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
                   peak_memory_mb=peak, unreadable=unreadable)


def execute(job: Job, snapshot: bytes) -> Result:
    """The task of one Dask worker: grade `job` in a private course folder; never raises for a
    bad submission. `snapshot` is the SQLite gradebook with the chapters' definitions only."""
    start = time.perf_counter()
    result = Result(job.student, job.slug, job.key, None, host=socket.gethostname())
    if job.use_sandbox:
        try:
            sandbox.check_available()
        except sandbox.SandboxUnavailable as exc:
            result.problem = f"the sandbox cannot start on worker {result.host}: {exc}"
            return result
    with tempfile.TemporaryDirectory(prefix="rnnkit-grade-") as scratch:
        course = Path(scratch)
        (course / "nbgrader_config.py").write_text(job.config)
        name = f"{job.slug}/{job.slug}.ipynb"
        source, path = course / "solutions" / name, course / "submitted" / job.student / name
        for where, data in ((source, job.source), (path, job.notebook)):
            where.parent.mkdir(parents=True)
            where.write_bytes(data)
        (course / "gradebook.db").write_bytes(snapshot)
        report = course / "report.json"
        options = [f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}",
                   "--CourseDirectory.submitted_directory=submitted", *job.options]
        outcome = grade_one(course, job.student, job.slug, path, options, job.limits,
                            job.use_sandbox, env={"RNNKIT_REPORT_FILE": str(report)})
        result.problem, result.peak_memory_mb = outcome.problem, outcome.peak_memory_mb
        result.unreadable = outcome.unreadable
        if report.is_file():
            data = json.loads(report.read_text())
            result.flags, result.timings = data.get("flags", []), data.get("timings", {})
        done = course / "autograded" / job.student / job.slug / f"{job.slug}.ipynb"
        if outcome.graded and done.is_file():
            result.executed = done.read_text()
    result.timings["process"] = outcome.seconds
    result.seconds = time.perf_counter() - start
    return result
