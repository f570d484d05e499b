"""Course pipeline timings: clean book build, unchanged rebuild, autograde per submission.

    .venv/bin/python benchmarks/bench_course.py        # from the repo root (`make bench`)

Goals (issue 3): unchanged rebuild < 60 s; autograding one chapter submission < 20 s.
Deletes _build/ first, so the book is rebuilt from nothing.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from rnnkit import grading, notebook

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def build_book() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rnnkit.bookprep"], cwd=ROOT, check=True, env=ENV,
                   stdout=subprocess.DEVNULL)
    subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", ".",
                    "--warningiserror", "--keep-going"], cwd=ROOT, check=True, env=ENV,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def reference_submission(slug: str) -> nbformat.NotebookNode:
    source = notebook.read(ROOT / "solutions" / slug / f"{slug}.ipynb")
    answers = {notebook.nbgrader_meta(c)["grade_id"]: notebook.solution_body(c.source)
               for c in source.cells if notebook.is_solution_cell(c)}
    nb = notebook.read(ROOT / "chapters" / slug / f"{slug}.ipynb")
    for cell in nb.cells:
        if notebook.is_solution_cell(cell):
            cell.source = answers[notebook.nbgrader_meta(cell)["grade_id"]]
    return nb


def autograde_per_submission(students: int = 2) -> dict[str, float]:
    slugs = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        shutil.copy(ROOT / "nbgrader_config.py", course)
        shutil.copytree(ROOT / "solutions", course / "solutions")
        for slug in slugs:
            nb = reference_submission(slug)
            for k in range(students):
                path = course / "submitted" / f"student{k}" / slug / f"{slug}.ipynb"
                path.parent.mkdir(parents=True)
                nbformat.write(nb, path)
        outcomes = grading.grade(course, course / "submitted", feedback=False, echo=lambda s: None)
    times = {}
    for o in outcomes:
        assert o.graded, o
        times.setdefault(o.slug, []).append(o.seconds)
    return {slug: sum(t) / len(t) for slug, t in times.items()}


def main() -> int:
    shutil.rmtree(ROOT / "_build", ignore_errors=True)
    clean = build_book()
    unchanged = build_book()
    print(f"clean book build      {clean:7.1f} s")
    print(f"unchanged rebuild     {unchanged:7.1f} s   (goal < 60 s; {unchanged / clean:.2f}x the clean build)")
    for slug, seconds in autograde_per_submission().items():
        print(f"autograde {slug:<20} {seconds:5.1f} s per submission (goal < 20 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
