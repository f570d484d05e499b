"""Each typical mistake (tests/mistakes/<slug>.json) fails exactly the test cells it lists.

One kernel per chapter: the reference notebook runs once; then, for each mistake, the wrong
solution cell is executed in its place and every later test cell is re-run; then the right
solution is restored. A final pass re-runs every test cell on the restored reference, which
catches a test that leans on state a later cell changed (it must pass again).
The grader's run-time probe (rnnkit.grading.probe) runs before the first cell, after the
reference and after each mistake: honest work must give it nothing to flag.
The first chapter's mistakes, all at once, are also graded through nbgrader in
test_grading.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import nbformat
from nbclient import NotebookClient

from rnnkit import notebook
from rnnkit.grading import probe

ROOT = Path(__file__).resolve().parents[1]
SLUGS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
pytestmark = pytest.mark.slow


def _probe(client, nb) -> dict:
    """Run the grader's probe in the kernel as the grader does (outside the notebook)."""
    code, nonce = probe.source()
    cell = nbformat.v4.new_code_cell(code)
    nb.cells.append(cell)
    try:
        client.execute_cell(cell, len(nb.cells) - 1, store_history=False)
    finally:
        nb.cells.pop()
    answer = probe.parse(cell.outputs, nonce)
    assert answer is not None, f"the probe got no answer: {cell.outputs}"
    return answer


@pytest.mark.parametrize("slug", SLUGS)
def test_each_mistake_fails_exactly_its_listed_tests(slug):
    """Apply each mistake alone; exactly the listed test cells fail, the others still pass."""
    nb = notebook.read(ROOT / "solutions" / slug / f"{slug}.ipynb")
    mistakes = json.loads((ROOT / "tests" / "mistakes" / f"{slug}.json").read_text())
    index = {notebook.nbgrader_meta(c).get("grade_id"): i for i, c in enumerate(nb.cells)}
    tests = [i for i, c in enumerate(nb.cells) if notebook.is_test_cell(c)]
    client = NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(ROOT / "solutions" / slug)}})
    wrong, flagged, seen = {}, {}, {}
    with client.setup_kernel():
        first = _probe(client, nb)
        probe.compare(first, seen, first)
        for i, cell in enumerate(nb.cells):
            client.execute_cell(cell, i)
        flagged["reference"] = probe.compare(first, seen, _probe(client, nb))
        broken = [notebook.nbgrader_meta(nb.cells[i])["grade_id"] for i in tests
                  if notebook.failure(nb.cells[i])]
        assert not broken, f"{slug}: reference fails {broken}"
        for m in mistakes:
            at = index[m["solution"]]
            right = nb.cells[at].source
            assert right.count(m["find"]) == 1, f"{slug}: find string of {m} must occur once"
            nb.cells[at].source = notebook.solution_body(right).replace(m["find"], m["replace"])
            client.execute_cell(nb.cells[at], at)
            failing = set()
            for i in (i for i in tests if i > at):
                client.execute_cell(nb.cells[i], i)
                if notebook.failure(nb.cells[i]):
                    failing.add(notebook.nbgrader_meta(nb.cells[i])["grade_id"])
            if failing != set(m["fails"]):
                wrong[m["solution"]] = {"fails": sorted(failing), "listed": sorted(m["fails"])}
            flagged[m["solution"]] = probe.compare(first, seen, _probe(client, nb))
            nb.cells[at].source = right
            client.execute_cell(nb.cells[at], at)
        for i in tests:
            client.execute_cell(nb.cells[i], i)
        polluted = [notebook.nbgrader_meta(nb.cells[i])["grade_id"] for i in tests
                    if notebook.failure(nb.cells[i])]
    assert not wrong, f"{slug}: mistakes that fail other tests than listed: {wrong}"
    assert not polluted, f"{slug}: tests that fail when re-run on the reference: {polluted}"
    flagged = {k: v for k, v in flagged.items() if v}
    assert not flagged, f"{slug}: honest work flagged by the grader's probe: {flagged}"
