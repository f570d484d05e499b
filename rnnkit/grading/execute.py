"""nbgrader preprocessors: execution in the sandbox with tamper checks, and flags for review.

nbgrader stays the grading engine. Its sanitising (restoring and overwriting test cells,
checksums) runs first, as always; :class:`SandboxedExecute` replaces only its ``Execute``:
the same nbclient execution, with the kernel in the sandbox (sandbox.py), the static checks
(tamper.py) before it starts, the probe (probe.py) before every test cell, and the audit
hook's reports (kernel.py) read at the end. Then nbgrader's own ``SaveAutoGrades`` scores the
executed notebook, and :class:`FlagForReview` takes the points of every test cell after a
flagged cell out of the automatic score: those cells get ``needs_manual_grade`` (nbgrader's
formgrader lists them for review), their ``auto_score`` is cleared until an instructor
grades them, and the reasons are written as the first solution cell's comment.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from nbclient.util import run_sync
from nbformat import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from nbgrader import utils
from traitlets import Bool, default

from .. import notebook
from . import probe, tamper
from .sandbox import Limits, SandboxedKernelManager, limits_from_env

FLAG_PREFIX = "Flagged for review: "
AUDIT_REASONS = {"exec": "ran code from a string (exec/eval)",
                 "compile": "compiled code from a string",
                 "sys._getframe": "read the call stack (sys._getframe)",
                 "sys._current_frames": "read other threads' frames",
                 "gc.get_objects": "walked live objects (gc)", "gc.get_referrers": "walked live "
                 "objects (gc)", "gc.get_referents": "walked live objects (gc)",
                 "sys.settrace": "installed a trace hook", "sys.setprofile": "installed a "
                 "profile hook", "sys.addaudithook": "added an audit hook",
                 "function.__new__": "built a function by hand", "code.__new__": "built a code "
                 "object by hand"}


def cell_file(source: str) -> str:
    """The file name IPython's kernel compiles a cell with (ipykernel.compiler.get_file_name)."""
    from ipykernel.compiler import get_tmp_hash_seed, murmur2_x86

    return f"{murmur2_x86(source, get_tmp_hash_seed())}.py"


def _audit_reason(event: dict) -> str:
    name, detail = event.get("event", ""), event.get("detail", "")
    if name == "open":
        return f"opened {detail}, outside its own folder"
    if name in ("object.__setattr__", "object.__delattr__"):
        return f"changed {detail}"
    if name.startswith("ctypes."):
        return "called C directly (ctypes)"
    return AUDIT_REASONS.get(name, name)


class SandboxedExecute(Execute):
    """nbgrader's Execute, sandboxed and watched (see the module docstring)."""

    sandbox = Bool(help="run the kernel in the sandbox (default: unless RNNKIT_SANDBOX=0)"
                   ).tag(config=True)

    @default("sandbox")
    def _sandbox_default(self):  # read when used: this module is imported once per worker
        return os.environ.get("RNNKIT_SANDBOX", "1") != "0"

    def __init__(self, **kw):
        super().__init__(**kw)
        if self.sandbox:
            self.kernel_manager_class = SandboxedKernelManager
        # Every output is in when the last cell has run: a graceful shutdown only waits ~2 s
        # for TensorFlow and PyTorch to tear down inside the sandbox, which then ends anyway.
        self.shutdown_kernel = "immediate"
        self.limits = Limits(**limits_from_env())

    # -- before execution ----------------------------------------------------------------------
    def _course_cells(self, resources) -> tuple[set[str], dict[str, tuple[str, ...]]]:
        """Sources of the course's own code cells and the forbid lists, from solutions/."""
        info = resources.get("nbgrader", {})
        root = os.environ.get("RNNKIT_SOURCE_DIR")
        path = Path(root or ".") / info.get("assignment", "") / f"{info.get('notebook', '')}.ipynb"
        if not root or not path.is_file():
            return set(), {}
        source = notebook.read(path)
        course = {c.source for c in source.cells if c.cell_type == "code"
                  and not notebook.is_solution_cell(c)}
        forbid = {notebook.nbgrader_meta(c).get("grade_id"):
                  tuple(c.metadata.get("rnnkit", {}).get("forbid", ()))
                  for c in source.cells if notebook.is_solution_cell(c)}
        return course, forbid

    def preprocess(self, nb: NotebookNode, resources: dict, km=None):
        course, forbid = self._course_cells(resources)
        cells = []
        self.student_files, self.known_files = {}, set()
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            meta = notebook.nbgrader_meta(cell)
            student = not (meta.get("locked") or meta.get("grade")) and cell.source not in course
            cells.append((index, cell.source, student, forbid.get(meta.get("grade_id"), ())))
            if student:
                self.student_files[cell_file(cell.source)] = index
            else:
                self.known_files.add(cell_file(cell.source))
        self.flags = tamper.check_cells(cells)
        self.first_probe, self.seen_ids, self.nonces = None, {}, []
        self.ran_code = False
        self.output_bytes, self.kept_km = 0, None
        # seconds: kernel start, the first code cell (the chapter's imports), the other cells,
        # the grader's probes; "execute" is all of it, with the kernel's shutdown
        self.timings = {"kernel_start": 0.0, "first_cell": 0.0, "cells": 0.0, "probes": 0.0}
        self.last_code = max((i for i, c in enumerate(nb.cells) if c.cell_type == "code"),
                             default=-1)
        began = time.perf_counter()
        try:
            nb, resources = super().preprocess(nb, resources, km)
        except Exception:
            tail = getattr(getattr(self.kept_km, "stderr_tail", None), "data", b"")
            if tail:  # what the kernel said last, for whoever reads the grading log
                self.log.warning("kernel's last words: %s", tail.decode("utf-8", "replace")[-2000:])
            raise
        finally:
            self._read_audit()
            self.timings["execute"] = time.perf_counter() - began  # with shutdown and audit
            resources["rnnkit_flags"] = [{"cell": f.cell, "reason": f.reason}
                                         for f in self.flags]
            self._report(resources["rnnkit_flags"])
        return nb, resources

    def _report(self, flags: list[dict]) -> None:
        """Flags and timings for the worker that started this process (worker.py), if asked."""
        path = os.environ.get("RNNKIT_REPORT_FILE")
        if path:
            timings = {**self.timings,
                       "startup": float(os.environ.get("RNNKIT_STARTUP_SECONDS", "0"))}
            Path(path).write_text(json.dumps({"flags": flags, "timings": timings}))

    # -- during execution ----------------------------------------------------------------------
    async def async_start_new_kernel(self, **kwargs):
        start = time.perf_counter()
        await super().async_start_new_kernel(**kwargs)
        self.timings["kernel_start"] += time.perf_counter() - start
        self.kept_km = self.km  # nbclient drops it at shutdown; its audit pipe is read after

    start_new_kernel = run_sync(async_start_new_kernel)  # nbclient's sync name for the above

    async def async_start_new_kernel_client(self):
        start = time.perf_counter()  # until the kernel answers: its start inside the sandbox
        try:
            return await super().async_start_new_kernel_client()
        finally:
            self.timings["kernel_start"] += time.perf_counter() - start

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def preprocess_cell(self, cell, resources, index):
        start = time.perf_counter()
        if not self.nonces or utils.is_grade(cell):  # the first probe, before any cell, is the baseline
            self._probe(index - 1)
        ran = time.perf_counter()
        first = not self.ran_code and cell.cell_type == "code"
        cell, resources = super().preprocess_cell(cell, resources, index)
        self.ran_code = self.ran_code or first
        self.timings["first_cell" if first else "cells"] += time.perf_counter() - ran
        self.timings["probes"] += ran - start
        if index == self.last_code:
            start = time.perf_counter()
            self._probe(index)
            self.timings["probes"] += time.perf_counter() - start
        return cell, resources

    def _probe(self, after: int) -> None:
        """Run the probe; flag what changed, as suspect from cell `after` on."""
        code, nonce = probe.source()
        self.known_files.add(cell_file(code))
        self.nonces.append((after, nonce))
        cell = NotebookNode(cell_type="code", source=code, metadata={}, outputs=[],
                            execution_count=None, id="rnnkit-probe")
        self.nb.cells.append(cell)
        try:
            self.execute_cell(cell, len(self.nb.cells) - 1, store_history=False)
        finally:
            self.nb.cells.pop()
        answer = probe.parse(cell.outputs, nonce)
        if answer is None:
            self._flag(after, "the grader's check got no answer from the kernel (its output "
                              "was hidden or the kernel was hooked)")
        elif self.first_probe is None:
            self.first_probe = answer
            probe.compare(answer, self.seen_ids, answer)
        else:
            for reason in probe.compare(self.first_probe, self.seen_ids, answer):
                self._flag(after, reason)

    def _flag(self, cell: int, reason: str) -> None:
        if not any(f.reason == reason for f in self.flags):
            self.flags.append(tamper.Flag(cell, reason))

    def output(self, outs, msg, display_id, cell_index):
        """Keep at most `limits.output_mb` of output per submission; drop the rest."""
        out = super().output(outs, msg, display_id, cell_index)
        if out is not None and cell_index < len(self.nb.cells) and \
                self.nb.cells[cell_index].get("id") != "rnnkit-probe":
            self.output_bytes += len(json.dumps(out))
            if self.output_bytes > self.limits.output_mb * 2**20:
                outs.remove(out)
                note = "[output truncated by the grader: over the submission's output limit]\n"
                if not any(o.get("text") == note for o in outs):
                    outs.append(NotebookNode(output_type="stream", name="stdout", text=note))
        return out

    # -- after execution -----------------------------------------------------------------------
    def _read_audit(self) -> None:
        km = self.kept_km
        reader = getattr(km, "audit_reader", None)
        if reader is None:
            return
        reader.join(timeout=10)  # the pipe closes when the sandbox has ended
        received = set()
        for line in reader.lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "probe":
                received.add(event.get("detail"))
                continue
            name = event.get("cell", "")
            if name in self.known_files:
                continue  # the course's own cells and the probe
            self._flag(self.student_files.get(name, -1), _audit_reason(event))
        for after, nonce in self.nonces:
            if nonce not in received:
                self._flag(after, "the grader's audit channel was silenced")
                break


class FlagForReview(NbGraderPreprocessor):
    """After SaveAutoGrades: flagged test cells need a manual grade, and say why."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        flags = resources.get("rnnkit_flags") or []
        if not flags:
            return nb, resources
        info = resources["nbgrader"]
        first = min(f["cell"] for f in flags)
        reasons = "; ".join(dict.fromkeys(f["reason"] for f in flags))
        with Gradebook(info["db_url"]) as gb:
            for index, cell in enumerate(nb.cells):
                if utils.is_grade(cell) and index > first:
                    grade = gb.find_grade(cell.metadata.nbgrader["grade_id"], info["notebook"],
                                          info["assignment"], info["student"])
                    grade.auto_score = None
                    grade.needs_manual_grade = True
            solution = next((c for c in nb.cells if utils.is_solution(c)), None)
            if solution is not None:
                comment = gb.find_comment(solution.metadata.nbgrader["grade_id"],
                                          info["notebook"], info["assignment"], info["student"])
                comment.auto_comment = FLAG_PREFIX + reasons
            gb.db.commit()
        self.log.warning("%s%s", FLAG_PREFIX, reasons)
        return nb, resources
