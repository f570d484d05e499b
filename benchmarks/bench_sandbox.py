"""What the grading sandbox costs: the same submissions autograded sandboxed and unsandboxed.

    .venv/bin/python benchmarks/bench_sandbox.py [--slugs 01_rnn_vs_cnn 04_lstm] [--rounds 3]

One course folder, one gradebook; every round grades each chapter's reference submission once
in the sandbox (bubblewrap, cgroups, audit hook) and once with --no-sandbox, alternating which
goes first, so both see the same machine load. The tamper checks (static and probe) run in
both modes; the difference is the sandbox itself. Prints seconds per submission for each mode
and the ratio (goal: sandboxed < 1.10 x unsandboxed).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import nbformat

from rnnkit.grading import runner, sandbox

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_course import ROOT, reference_submission  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slugs", nargs="+", default=["01_rnn_vs_cnn", "04_lstm", "08_applications"])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ["PATH"] = runner._env()["PATH"]  # nbgrader runs `alembic` from this environment
    sandbox.check_available()
    limits = sandbox.Limits()
    times = {"sandbox": [], "plain": []}
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        shutil.copy(ROOT / "nbgrader_config.py", course)
        students = [f"{mode}-{r}" for r in range(args.rounds) for mode in times]
        for slug in args.slugs:
            shutil.copytree(ROOT / "solutions" / slug, course / "solutions" / slug)
            nb = reference_submission(slug)
            for student in students:
                path = course / "submitted" / student / slug / f"{slug}.ipynb"
                path.parent.mkdir(parents=True)
                nbformat.write(nb, path)
        options = ["--CourseDirectory.submitted_directory=submitted"]
        runner.register(course, args.slugs, students, options, None, 600)
        for r in range(args.rounds):
            for slug in args.slugs:
                order = ["sandbox", "plain"] if (r + args.slugs.index(slug)) % 2 == 0 else \
                    ["plain", "sandbox"]
                for mode in order:
                    student = f"{mode}-{r}"
                    path = course / "submitted" / student / slug / f"{slug}.ipynb"
                    out = runner.grade_one(course, student, slug, path, options, limits,
                                           use_sandbox=mode == "sandbox")
                    assert out.graded, out
                    times[mode].append(out.seconds)
                    memory = f"  peak {out.peak_memory_mb:.0f} MB" if out.peak_memory_mb else ""
                    print(f"round {r} {slug:<20} {mode:<8} {out.seconds:6.2f} s{memory}",
                          flush=True)
        rows = runner.export(course, course / "grades.csv")
    assert all(not row["flagged"] for row in rows), [r for r in rows if r["flagged"]]
    mean = {mode: statistics.mean(t) for mode, t in times.items()}
    median = {mode: statistics.median(t) for mode, t in times.items()}
    print(f"\nper submission, {len(times['plain'])} each: sandboxed mean {mean['sandbox']:.2f} s "
          f"(median {median['sandbox']:.2f}), unsandboxed mean {mean['plain']:.2f} s "
          f"(median {median['plain']:.2f})")
    print(f"sandboxed / unsandboxed: {mean['sandbox'] / mean['plain']:.3f} (mean), "
          f"{median['sandbox'] / median['plain']:.3f} (median); goal < 1.10")
    return 0


if __name__ == "__main__":
    sys.exit(main())
