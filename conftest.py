"""How `pytest -n 2` (pytest-xdist) shares the suite between two workers.

Work that must stay on one worker goes as one unit: the cells of one notebook under nbval
(they share a kernel), the book build and its browser tests (one site), the nbgrader run and
the tests that read its gradebook. Everything else goes test by test. The longest units are
queued first, so neither worker is left with a long tail at the end.

(xdist's own `--dist loadgroup` cannot be used: with pytest 9 its `xdist_group` marks no
longer reach the node ids it groups by, so this file supplies the scheduler instead.)
"""
from __future__ import annotations

import os

import pytest

# Two workers, and the nbgrader kernels beside them, already fill the 2 cores; BLAS, OpenMP and
# TensorFlow thread pools on top only make every process wait on the others. Set before any
# test module imports torch or TensorFlow; the kernels the tests start inherit it.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
    os.environ.setdefault(_name, "1")

# Files whose tests form one unit (one grading run or server shared by a module fixture); with
# test_mistakes.py, the longest work (minutes each).
_ONE_UNIT = ("tests/test_grading.py", "tests/test_book.py", "tests/test_sandbox.py",
             "tests/test_postgres.py", "tests/test_workers.py")
_FIRST = (*_ONE_UNIT, "tests/test_mistakes.py")


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _unit(nodeid: str) -> str:
    """The scheduling unit of a test: its notebook or grouped file, or else the test itself."""
    path = _file(nodeid)
    return path if path.endswith(".ipynb") or path in _ONE_UNIT else nodeid


def _rank(item) -> int:
    path = _file(item.nodeid)
    if path in _FIRST:
        return _FIRST.index(path)
    return len(_FIRST) + (0 if path.endswith(".ipynb") else 1)


def pytest_collection_modifyitems(config, items):
    items.sort(key=_rank)  # stable: the cells of a notebook keep their order


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class Units(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

    config.option.loadscopereorder = False  # keep the longest-first order set above
    return Units(config, log)
