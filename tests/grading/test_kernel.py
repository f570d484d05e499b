"""The sandboxed kernel's launcher (rnnkit.grading.kernel): its limits and its audit hook.

Each test runs a fresh Python in a subprocess: rlimits and audit hooks cannot be undone, so
they must not touch the test process.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

CELL = "/tmp/ipykernel_7/1234.py"  # the file name IPython's kernel gives a cell's code


def _python(code: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60, env=env)


def test_limits_are_hard():
    """CPU, file size, core and (without a memory cgroup) address-space limits are set with
    soft = hard, so the kernel, an unprivileged process, can never raise them again."""
    proc = _python("""
        import resource
        from rnnkit.grading.kernel import set_limits
        set_limits({"RNNKIT_LIMIT_CPU_SECONDS": "7", "RNNKIT_LIMIT_FILE_MB": "3", "RNNKIT_AS_MB": "8192"})
        print(resource.getrlimit(resource.RLIMIT_CPU), resource.getrlimit(resource.RLIMIT_FSIZE),
              resource.getrlimit(resource.RLIMIT_CORE), resource.getrlimit(resource.RLIMIT_AS))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[0] == f"(7, 7) ({3 << 20}, {3 << 20}) (0, 0) ({8192 << 20}, {8192 << 20})"


def test_audit_hook_reports_what_cells_do_and_ignores_libraries():
    """eval, frames and an open outside the working folder, called from a cell, are reported
    at once through the pipe; the same from library code, or an open inside the folder, is not."""
    proc = _python(f"""
        import os, sys, json, tempfile
        from rnnkit.grading.kernel import install_audit_hook
        read, write = os.pipe()
        work = tempfile.mkdtemp()
        install_audit_hook(write, work)
        cell = '''
        eval("1 + 1")
        sys._getframe()
        open(os.devnull).close()
        open(os.path.join(work, "mine.txt"), "w").close()
        try:
            open("/no/such/course/solutions.ipynb")
        except OSError:
            pass
        '''
        exec(compile(cell.replace(chr(10) + "        ", chr(10)), "{CELL}", "exec"), globals())
        import collections, json as j2  # library code that uses sys._getframe and compile
        collections.namedtuple("P", "x y")
        os.close(write)
        print(os.read(read, 100000).decode())
    """)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert {e["cell"] for e in events} == {"1234.py"}
    assert [e["event"] for e in events] == ["compile", "exec", "sys._getframe", "open"], events
    assert events[-1]["detail"] == "/no/such/course/solutions.ipynb"
