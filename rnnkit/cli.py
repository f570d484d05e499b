"""The ``rnnkit`` command: ``rnnkit check`` for learners, ``rnnkit grade`` for instructors.

    rnnkit check chapters/01_rnn_vs_cnn/01_rnn_vs_cnn.ipynb
    rnnkit grade submitted/            # nbgrader autograde + export + feedback, one table

``check`` runs a notebook top to bottom in a fresh kernel (your saved file, not the open
Jupyter session: save first) and prints, per test cell, passed or failed with the failing
assertion's message and the points. It exits 0 only when every test passes.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def check(path: str, timeout: int = 120) -> int:
    from . import notebook

    try:
        nb = notebook.read(path)
    except notebook.NotebookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not any(notebook.is_test_cell(c) for c in nb.cells):
        print(f"error: {path} has no graded test cells; is it a course notebook?", file=sys.stderr)
        return 2
    print(f"Running {path} in a fresh kernel ...", flush=True)
    try:
        notebook.execute(nb, cwd=Path(path).resolve().parent, timeout=timeout)
    except Exception as exc:  # the kernel died: report what ran before it did
        print(f"warning: the kernel stopped ({type(exc).__name__}); cells after that count "
              f"as failed", file=sys.stderr)
    results = notebook.test_results(nb)
    width = max(len(r.grade_id) for r in results)
    earned = total = 0.0
    for r in results:
        total += r.points
        earned += r.points if r.passed else 0
        mark = "PASS" if r.passed else "FAIL"
        line = f"  {mark}  {r.grade_id:<{width}}  {r.points if r.passed else 0:g}/{r.points:g}"
        print(line + ("" if r.passed else f"  {r.message}"))
    passed = sum(r.passed for r in results)
    print(f"{passed} passed, {len(results) - passed} failed; {earned:g}/{total:g} points "
          f"(hidden tests decide the final grade)")
    return 0 if passed == len(results) else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="rnnkit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_check = sub.add_parser("check", help="run a notebook's tests and show what passed")
    p_check.add_argument("notebook")
    p_check.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    p_grade = sub.add_parser("grade", help="autograde a folder of submissions with nbgrader")
    from .grading import add_arguments

    add_arguments(p_grade)
    args = parser.parse_args(argv)
    if args.command == "check":
        return check(args.notebook, args.timeout)
    from .grading import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
