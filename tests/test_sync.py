"""The committed learner notebooks, book order and source notebooks agree with each other."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from rnnkit import notebook

ROOT = Path(__file__).resolve().parents[1]
SLUGS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
BOOK_ORDER = ["01_rnn_vs_cnn", "02_long_sequences", "03_fixing_gradients", "04_lstm",
              "05_lstm_code", "06_gru", "07_gru_code", "08_applications", "09_when_to_use_rnn",
              "10_evaluation", "11_keras_practice", "12_pytorch_practice", "13_summary"]


def _comparable(nb):
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        cell.pop("id", None)
    return nb


@pytest.mark.slow
@pytest.mark.parametrize("slug", SLUGS)
def test_chapters_are_what_nbgrader_generates_from_solutions(slug, tmp_path):
    """`make release` would reproduce the committed chapters/<slug> exactly."""
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", slug, "--force",
         f"--CourseDirectory.root={ROOT}", f"--CourseDirectory.release_directory={tmp_path}",
         f"--CourseDirectory.db_url=sqlite:///{tmp_path / 'db.sqlite'}"],
        cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    fresh = nbformat.read(tmp_path / slug / f"{slug}.ipynb", as_version=4)
    committed = notebook.read(ROOT / "chapters" / slug / f"{slug}.ipynb")
    assert _comparable(fresh) == _comparable(committed), \
        f"chapters/{slug} is stale: run `make release` and commit the result"


@pytest.mark.parametrize("slug", SLUGS)
def test_sources_are_committed_without_outputs(slug):
    """Source notebooks carry no outputs or execution counts (`make strip`)."""
    nb = notebook.read(ROOT / "solutions" / slug / f"{slug}.ipynb")
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"solutions/{slug}: cells {dirty} have outputs; run `make strip`"


@pytest.mark.parametrize("slug", SLUGS)
def test_every_test_cell_has_a_docstring_and_points(slug):
    """Test cells open with a one-line docstring, have points, and ids are unique."""
    nb = notebook.read(ROOT / "solutions" / slug / f"{slug}.ipynb")
    ids = [notebook.nbgrader_meta(c)["grade_id"] for c in nb.cells if notebook.nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), f"duplicate grade ids in {slug}"
    tests = [c for c in nb.cells if notebook.is_test_cell(c)]
    assert len({notebook.nbgrader_meta(c)["grade_id"] for c in nb.cells
                if notebook.is_solution_cell(c)}) >= 4, "a chapter has at least 4 exercises"
    for cell in tests:
        meta = notebook.nbgrader_meta(cell)
        assert meta.get("points", 0) > 0, meta["grade_id"]
        assert cell.source.lstrip().startswith('"""'), f"{meta['grade_id']} has no docstring"
        assert "### BEGIN HIDDEN TESTS" in cell.source, f"{meta['grade_id']} has no hidden tests"


def test_book_lists_the_chapters_in_order():
    """_toc.yml lists exactly the chapters in solutions/, in the course's order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = [c["file"].split("/")[-1] for part in toc["parts"] for c in part["chapters"]]
    assert listed == [s for s in BOOK_ORDER if s in SLUGS]
    assert set(SLUGS) <= set(BOOK_ORDER), "unknown chapter slug"
