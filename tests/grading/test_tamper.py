"""Static tamper checks (rnnkit.grading.tamper) and the probe's comparison (probe.compare).

Every rule fires on a small example of what it is for, and no rule fires on honest work: the
reference solution of every chapter, and each typical mistake in tests/mistakes/ applied to it.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnkit import notebook
from rnnkit.grading import probe
from rnnkit.grading.tamper import check_cells

ROOT = Path(__file__).resolve().parents[2]
SLUGS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
PREAMBLE = "import numpy as np\nimport torch\nimport rnnkit\nfrom rnnkit.checks import assert_close\n"

HOSTILE = {
    "np.allclose = lambda *a: True": "assigns numpy.allclose",
    "import numpy.testing as npt\nnpt.assert_allclose = print": "assigns numpy.testing.assert_allclose",
    "torch.Tensor.__eq__ = lambda s, o: True": "assigns torch.Tensor.__eq__",
    "setattr(rnnkit.checks, 'assert_close', print)": "calls setattr() on rnnkit.checks",
    "import sys\nsys.modules['rnnkit.checks'] = None": "writes into sys.modules",
    "import builtins\nbuiltins.len = lambda x: 0": "imports builtins",
    "get_ipython().set_custom_exc((Exception,), print)": "uses get_ipython()",
    "get_ipython().events.register('post_run_cell', print)": "uses get_ipython()",
    "class A:\n    def __eq__(self, other):\n        return True": "defines __eq__ that ignores",
    "class A(float):\n    __ne__ = lambda self, other: False": "defines __ne__ that ignores",
    "A = type('A', (), {'__eq__': lambda s, o: True})": "defines __eq__ that ignores",
    "class A:\n    def __array_ufunc__(self, *a, **k):\n        return True": "defines __array_ufunc__",
    "class A:\n    def __bool__(self):\n        return True": "defines __bool__ that returns a constant",
    "exec(open('x.py').read())": "calls exec()",
    "f = eval('lambda: 1')": "calls eval()",
    "import ctypes": "imports ctypes",
    "import gc\ngc.get_objects()": "imports gc",
    "import sys\nsys._getframe(1).f_globals": "uses sys._getframe",
    "import inspect\ninspect.currentframe()": "imports inspect",
    "print(open('/work/course/solutions/01/01.ipynb').read())": "names the path",
    "json_text = open('../../../solutions/x.ipynb').read()": "names the path",
    "import sqlite3\nsqlite3.connect('gradebook.db')": "imports sqlite3",
    "import subprocess\nsubprocess.run(['ls'])": "imports subprocess",
    "import os\nos.system('ls')": "uses os.system",
    "import os\nos.environ['IPYKERNEL_CELL_NAME'] = 'x'": "writes into os.environ",
    "(lambda: 0).__code__": "reads .__code__",
    "__builtins__.print = None": "through builtins",
    "!cat /etc/passwd": "uses get_ipython()",
}


def _cells(student_source: str, forbid=()):
    return [(0, PREAMBLE, False, ()), (1, student_source, True, tuple(forbid))]


@pytest.mark.parametrize("source, reason", HOSTILE.items(), ids=list(HOSTILE))
def test_each_rule_fires_on_what_it_is_for(source, reason):
    """A hostile line is flagged, with a reason that says what it did."""
    flags = check_cells(_cells(source))
    assert any(reason in f.reason for f in flags), [f.reason for f in flags]
    assert all(f.cell == 1 for f in flags)


def test_the_course_cells_are_not_judged():
    """Only the learner's cells count: the same line in a course cell is not flagged."""
    assert check_cells([(0, "np.allclose = np.isclose", False, ())]) == []


@pytest.mark.parametrize("source", [
    "def f(x):\n    return np.tanh(x @ np.eye(3).T)",
    "%time y = np.ones(3)",
    "class P:\n    def __eq__(self, other):\n        return self.x == other.x",
    "w = rnnkit.init_weights('lstm', 3, 4)\nw['W_ih'] = w['W_ih'] * 2",
    "import math\nprint(math.log(2), 'a/b', '1 / 2')",
], ids=["numpy", "time-magic", "honest-eq", "own-dict", "strings"])
def test_honest_code_is_not_flagged(source):
    """Ordinary solution code raises no flag."""
    assert check_cells(_cells(source)) == []


@pytest.mark.parametrize("source, flagged", [
    ("out, h = rnnkit.forward('rnn', x, w)", True),
    ("import torch.nn as nn\nrnn = nn.RNN(3, 4)", True),
    ("layer = getattr(torch.nn, 'RNN')", True),
    ("h = np.tanh(x @ W.T + b)", False),
], ids=["rnnkit-forward", "alias", "getattr", "from-scratch"])
def test_from_scratch_exercises_flag_what_they_forbid(source, flagged):
    """A solution cell's `rnnkit.forbid` list is enforced on that cell (dotted prefixes)."""
    flags = check_cells(_cells(source, forbid=("rnnkit.forward", "torch.nn")))
    assert bool(flags) == flagged, [f.reason for f in flags]


def _course_sources(nb) -> set[str]:
    return {c.source for c in nb.cells if c.cell_type == "code" and not notebook.is_solution_cell(c)}


@pytest.mark.parametrize("slug", SLUGS)
def test_honest_corpus_is_never_flagged(slug):
    """The reference solution, and each typical mistake applied to it, raise no static flag."""
    nb = notebook.read(ROOT / "solutions" / slug / f"{slug}.ipynb")
    mistakes = json.loads((ROOT / "tests" / "mistakes" / f"{slug}.json").read_text())
    course = _course_sources(nb)
    for mistake in [None, *mistakes]:
        cells = []
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            meta = notebook.nbgrader_meta(cell)
            source = notebook.solution_body(cell.source) if meta.get("solution") else cell.source
            if mistake and meta.get("grade_id") == mistake["solution"]:
                source = source.replace(mistake["find"], mistake["replace"])
            forbid = tuple(cell.metadata.get("rnnkit", {}).get("forbid", ()))
            student = not (meta.get("locked") or meta.get("grade")) and source not in course
            cells.append((i, source, student, forbid))
        flags = check_cells(cells)
        assert not flags, f"{slug} {mistake and mistake['solution']}: {flags}"


def _answer(**changes):
    base = {"custom_exc": [], "callbacks": ["post_execute: matplotlib_inline.backend_inline:flush_figures"],
            "transformers": [4, 0, 0], "shell_overrides": [], "streams": ["OutStream", "OutStream"],
            "hooks": ["ipykernel.displayhook:ZMQShellDisplayHook", "builtins:excepthook"],
            "defined_in_cells": [], "comparisons": [], "ids": {"numpy.allclose": [1, "numpy"]}}
    return {**base, **changes}


@pytest.mark.parametrize("changes, reason", [
    ({"custom_exc": ["BaseException"]}, "custom exception handler"),
    ({"callbacks": ["post_run_cell: cell:hide"]}, "IPython callback of its own"),
    ({"transformers": [5, 0, 0]}, "transformer"),
    ({"shell_overrides": ["showtraceback"]}, "showtraceback"),
    ({"streams": ["StringIO", "OutStream"]}, "sys.stdout"),
    ({"hooks": ["cell:quiet", "builtins:excepthook"]}, "sys.excepthook"),
    ({"defined_in_cells": ["numpy.allclose"]}, "replaced numpy.allclose with a function"),
    ({"comparisons": ["A.__eq__"]}, "A.__eq__"),
    ({"ids": {"numpy.allclose": [2, "builtins"]}}, "replaced numpy.allclose with builtins"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_probe_compare_names_each_change(changes, reason):
    """Each kind of run-time tampering the probe reports becomes a reason; no change, none."""
    first = _answer()
    seen = {}
    assert probe.compare(first, seen, first) == []
    reasons = probe.compare(first, seen, _answer(**changes))
    assert any(reason in r for r in reasons), reasons


def test_a_library_rewrapping_its_own_function_is_not_a_flag():
    """torch rewraps torch.manual_seed when torch._dynamo loads: same package, no flag."""
    first = _answer(ids={"torch.manual_seed": [1, "torch"]})
    seen = {}
    probe.compare(first, seen, first)
    assert probe.compare(first, seen, _answer(ids={"torch.manual_seed": [2, "torch"]})) == []


def test_probe_answer_needs_its_nonce():
    """An answer printed without this probe's nonce (forged or stale) is no answer."""
    code, nonce = probe.source()
    text = f"RNNKIT-PROBE {nonce} " + json.dumps(_answer())
    assert probe.parse([{"output_type": "stream", "name": "stdout", "text": text}], nonce)
    assert probe.parse([{"output_type": "stream", "name": "stdout", "text": text}], "0" * 32) is None
    assert nonce in code
