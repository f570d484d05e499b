"""The gradebook, written from one place: preparing it, snapshots for workers, committing results.

Workers never write the course's gradebook. :func:`snapshot` gives them a small SQLite copy
holding only the chapters' definitions (what nbgrader's sanitising reads); :func:`commit`
then records one worker's :class:`~.worker.Result` in the real gradebook with nbgrader's own
autograde pipeline, in this process, with the execution step replaced by :class:`Replay` (the
worker's outputs, checked against the submission). Commits run one at a time, in the order the
runner gives, so the rows do not depend on which worker finished first. After a commit a
marker beside the autograded notebook records the submission's content hash: a rerun skips it
while neither the submission nor its chapter has changed (:func:`already_graded`).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from . import autograde
from .execute import FLAG_PREFIX
from .worker import Result

MARKER = ".rnnkit-graded.json"
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


def snapshot(db_url: str, course_id: str, slugs) -> bytes:
    """A SQLite gradebook (as bytes) with the definitions of `slugs` copied from `db_url`."""
    import sqlalchemy
    from nbgrader.api import Base, Gradebook

    tables = Base.metadata.tables
    source = sqlalchemy.create_engine(db_url, poolclass=sqlalchemy.pool.NullPool)
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/snapshot.db"
        Gradebook(url, course_id).close()  # tables, alembic version, the course
        target = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        with source.connect() as src, target.begin() as dst:
            def copy(name, where):
                rows = [dict(r._mapping) for r in src.execute(tables[name].select().where(where))]
                if rows:
                    dst.execute(tables[name].insert(), rows)
                return {r["id"] for r in rows}

            have = {r[0] for r in dst.execute(sqlalchemy.select(tables["course"].c.id))}
            copy("course", tables["course"].c.id.notin_(have))
            assignments = copy("assignment", tables["assignment"].c.name.in_(list(slugs)))
            notebooks = copy("notebook", tables["notebook"].c.assignment_id.in_(assignments))
            cells = copy("base_cell", tables["base_cell"].c.notebook_id.in_(notebooks))
            copy("source_cell", tables["source_cell"].c.notebook_id.in_(notebooks))
            for name in ("grade_cells", "solution_cells", "task_cells"):
                copy(name, tables[name].c.id.in_(cells))
        source.dispose()
        target.dispose()
        return Path(scratch, "snapshot.db").read_bytes()


def flags(db_url: str) -> dict[tuple[str, str], str]:
    """(student, chapter) -> the reasons a submission was flagged for review, from the gradebook."""
    from nbgrader.api import Comment, Gradebook

    with Gradebook(db_url) as gb:
        found = gb.db.query(Comment).filter(Comment.auto_comment.like(FLAG_PREFIX + "%")).all()
        return {(c.notebook.student.id, c.notebook.assignment.name):
                c.auto_comment[len(FLAG_PREFIX):] for c in found}


def submissions(db_url: str) -> set[tuple[str, str]]:
    """(student, chapter) of every submission the gradebook holds."""
    from nbgrader.api import Gradebook, SubmittedAssignment

    with Gradebook(db_url) as gb:
        return {(s.student.id, s.assignment.name) for s in gb.db.query(SubmittedAssignment)}


def already_graded(course: Path, student: str, slug: str, key: str, recorded) -> bool:
    """Committed before, with the same content hash, and still in the gradebook."""
    marker = course / "autograded" / student / slug / MARKER
    try:
        done = json.loads(marker.read_text()).get("key") == key
    except (OSError, ValueError):
        return False
    return done and (student, slug) in recorded and \
        (course / "autograded" / student / slug / f"{slug}.ipynb").is_file()


class CommitFailed(RuntimeError):
    """The worker's result could not be recorded as graded (nbgrader's log says why)."""


class Replay(NbGraderPreprocessor):
    """Stands where nbgrader's Execute stands: the outputs a worker's run produced."""

    result: Result | None = None  # set by commit(), one submission at a time

    def preprocess(self, nb: NotebookNode, resources: dict):
        result = Replay.result
        if result is None or result.executed is None:
            raise CommitFailed(result.problem if result else "no result to record")
        done = nbformat.reads(result.executed, as_version=4)
        if [c.source for c in done.cells] != [c.source for c in nb.cells]:
            raise CommitFailed("the notebook a worker executed is not this submission "
                               "(its cells differ); grade it again")
        for cell, ran in zip(nb.cells, done.cells):
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = ran.outputs, ran.execution_count
        resources["rnnkit_flags"] = result.flags
        return nb, resources


@contextlib.contextmanager
def _captured(logger: logging.Logger):
    """nbgrader's log lines of one commit, kept instead of printed."""
    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(f"[{record.levelname}] {record.getMessage()}")
    saved, logger.handlers, logger.propagate = logger.handlers, [handler], False
    try:
        yield lines
    finally:
        logger.handlers = saved


def commit(course: Path, result: Result, options: list[str]) -> tuple[bool, list[str]]:
    """Record one worker's result in the gradebook with nbgrader's autograde (see the module
    docstring); returns (graded, nbgrader's log lines). A result without an executed notebook
    (the kernel died, a cell hung) is recorded as nbgrader records such a failure."""
    from nbgrader.apps import AutogradeApp
    from nbgrader.converters import Autograde
    from nbgrader.converters.base import NbGraderException
    from traitlets.config import Config

    config = Config()
    config.Autograde.autograde_preprocessors = autograde.pipeline(Replay)
    app = AutogradeApp(config=config)
    here = os.getcwd()
    os.chdir(course)  # nbgrader also reads nbgrader_config.py from the working folder
    Replay.result = result
    try:
        # nbgrader's own autoflush warnings (SAWarning), which its command line prints too
        with _captured(app.log) as lines, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            app.initialize([result.slug, "--student", result.student, "--create", "--force",
                            f"--CourseDirectory.root={course}", *options])
            app.coursedir.assignment_id = result.slug
            try:
                Autograde(coursedir=app.coursedir, parent=app).start()
            except NbGraderException:
                return False, lines
    finally:
        Replay.result = None
        os.chdir(here)
    target = course / "autograded" / result.student / result.slug
    (target / MARKER).write_text(json.dumps({"key": result.key, "host": result.host}))
    return True, lines
