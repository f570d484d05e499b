"""Reading and running course notebooks: the part `rnnkit check` and the tests share.

A course notebook marks its exercises with nbgrader cell metadata (AUTHORING.md): solution
cells carry ``nbgrader.solution``, test cells ``nbgrader.grade`` with ``points``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

ANSI = re.compile(r"\x1b\[[0-9;]*m")
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?",
                    re.S | re.M)
SOLUTION_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)


class NotebookError(ValueError):
    """A notebook that cannot be checked: missing, not JSON, or not a notebook."""


@dataclass
class TestResult:
    """The outcome of one graded test cell."""

    grade_id: str
    points: float
    passed: bool
    message: str = ""  # the failing assertion's "Name: message", empty when passed


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test_cell(cell) -> bool:
    return cell.cell_type == "code" and bool(nbgrader_meta(cell).get("grade"))


def is_solution_cell(cell) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def read(path) -> nbformat.NotebookNode:
    """Read and validate a notebook, turning every way it can be broken into a NotebookError."""
    path = Path(path)
    if not path.is_file():
        raise NotebookError(f"{path}: no such notebook. Pass the path of a .ipynb file, e.g. "
                            f"chapters/01_rnn_vs_cnn/01_rnn_vs_cnn.ipynb")
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # JSON errors, schema errors, bad encodings: all say the same
        raise NotebookError(f"{path} is not a valid notebook ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}). Restore it from "
                            f"your last good copy, or re-download it from chapters/") from exc
    return nb


def strip_hidden_tests(source: str) -> str:
    """Remove every ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` block."""
    return HIDDEN.sub("", source)


def solution_body(source: str) -> str:
    """A solution cell's source without its ``### BEGIN/END SOLUTION`` marker lines."""
    return SOLUTION_MARKERS.sub("", source)


def execute(nb: nbformat.NotebookNode, cwd, timeout: int = 120, kernel_name: str = "python3"):
    """Run every cell, recording errors in the outputs instead of stopping at the first.

    The kernel talks to this process over Unix sockets in a private temporary folder (ZeroMQ's
    ``ipc`` transport) rather than TCP on the loopback: nothing else on the machine can connect
    to it, and the kernel has no reason to warn about unencrypted TCP.
    """
    import tempfile

    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory(prefix="rnnkit-") as sockets:
        km = AsyncKernelManager(kernel_name=kernel_name, transport="ipc",
                                ip=str(Path(sockets) / "kernel"))
        client = NotebookClient(nb, km=km, timeout=timeout, kernel_name=kernel_name,
                                allow_errors=True, interrupt_on_timeout=True,
                                resources={"metadata": {"path": str(cwd)}})
        client.execute()
    return nb


def failure(cell) -> str:
    """Why an executed test cell earns nothing under nbgrader's rule, or "" if it passes.

    nbgrader gives no credit to a cell that raised or wrote to stderr (a warning, say); a cell
    that never ran (the kernel stopped first) fails too.
    """
    outputs = cell.get("outputs", [])
    errors = [o for o in outputs if o.get("output_type") == "error"]
    if errors:
        err = errors[0]
        if err.get("ename") == "NotImplementedError":
            return "not attempted yet (the exercise still raises NotImplementedError)"
        return ANSI.sub("", f"{err.get('ename', 'Error')}: {err.get('evalue', '')}").strip()
    stderr = [o for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr"]
    if stderr:
        return "wrote to stderr, which nbgrader scores as a failure: " + \
            (ANSI.sub("", stderr[0]["text"]).strip().splitlines() or [""])[-1][:200]
    if cell.get("execution_count") is None:
        return "did not run (the kernel stopped before reaching this cell)"
    return ""


def test_results(nb: nbformat.NotebookNode) -> list[TestResult]:
    """Pass or fail, with the error message, for every graded test cell of an executed notebook."""
    results = []
    for cell in nb.cells:
        if is_test_cell(cell):
            meta, message = nbgrader_meta(cell), failure(cell)
            results.append(TestResult(meta.get("grade_id", "?"), float(meta.get("points", 0)),
                                      passed=not message, message=message))
    return results
