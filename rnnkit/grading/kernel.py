"""The kernel's launcher inside the sandbox: limits, an audit hook, then a plain IPython kernel.

    python -P .../rnnkit/grading/kernel.py -f CONNECTION_FILE   (by SandboxedKernelManager)

Before any submission code runs it sets the per-process limits (rlimits can only be lowered
afterwards, never raised) and installs a ``sys.addaudithook`` hook (which Python offers no
way to remove). The hook reports what honest answers never do, when a notebook cell does it
itself: ``exec``/``eval``/``compile`` of code, ``sys._getframe``, the ``gc`` object walkers,
``ctypes``, tracing and profiling hooks, new audit hooks, attribute writes on classes, and
opening files outside the submission's own folder. Each report is one JSON line written at
once to a pipe whose other end the grader holds outside the sandbox, so nothing the
submission does later can take it back. The hook names the cell by its compiled file name
(IPython's hash of the cell's source), so the grader attributes each report to a cell and
ignores the course's own cells.
"""
from __future__ import annotations

import os
import resource
import sys

DIRECT = frozenset({"exec", "compile", "sys._getframe", "sys._current_frames", "gc.get_objects",
                    "gc.get_referrers", "gc.get_referents", "sys.settrace", "sys.setprofile",
                    "sys.addaudithook", "object.__setattr__", "object.__delattr__",
                    "function.__new__", "code.__new__"})
# Report the cell that called these modules, not the module (IPython wraps `open` for cells).
SKIPPED = ("/inspect.py", "/ctypes/", "/IPython/core/interactiveshell.py")


def set_limits(env=os.environ) -> None:
    """Per-process limits from RNNKIT_LIMIT_*, hard and soft (the sandbox cannot raise them)."""
    def cap(which, value):
        resource.setrlimit(which, (value, value))

    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_CPU, int(env.get("RNNKIT_LIMIT_CPU_SECONDS", 900)))
    cap(resource.RLIMIT_FSIZE, int(env.get("RNNKIT_LIMIT_FILE_MB", 256)) << 20)
    if "RNNKIT_NPROC" in env:  # no pids cgroup on this machine: cap processes of `nobody`
        cap(resource.RLIMIT_NPROC, int(env["RNNKIT_NPROC"]))
    if "RNNKIT_AS_MB" in env:  # no memory cgroup: cap address space instead
        cap(resource.RLIMIT_AS, int(env["RNNKIT_AS_MB"]) << 20)


def install_audit_hook(fd: int, workdir: str) -> None:
    """Report suspicious events to ``fd`` (see the module docstring)."""
    import json
    import re
    import threading

    write, dumps, getframe, getcwd = os.write, json.dumps, sys._getframe, os.getcwd
    join, normpath, fspath = os.path.join, os.path.normpath, os.fspath
    cell_name = re.compile(r"ipykernel_\d+/(\d+\.py)$").search
    own = (workdir.rstrip("/") + "/", "/tmp/", "/dev/null")
    libraries = tuple(sorted({p.rstrip("/") + "/" for p in (
        "/usr", "/etc", "/proc", "/sys", "/dev", "/lib", "/lib64", "/bin", sys.prefix,
        sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.dirname(__file__)))} | set(own)))
    state = threading.local()  # per thread: the hook's own work raises events too

    def report(event, cell, detail=""):
        line = dumps({"event": event, "cell": cell, "detail": str(detail)[:200]}) + "\n"
        try:
            write(fd, line.encode())
        except OSError:
            pass

    def cell_of(frame, innermost=True):
        """The cell file of `frame` (or, with innermost=False, of any frame above it)."""
        while frame is not None:
            found = cell_name(frame.f_code.co_filename)
            if found or innermost:
                return found.group(1) if found else None
            frame = frame.f_back
        return None

    def hook(event, args):
        if not (event == "open" or event in DIRECT or event.startswith("ctypes.")) or \
                getattr(state, "busy", False):
            return
        state.busy = True
        try:
            caller = getframe(1)
            while caller is not None and any(s in caller.f_code.co_filename for s in SKIPPED):
                caller = caller.f_back
            if event == "open":
                path = args[0]
                if isinstance(path, int):
                    return
                path = normpath(join(getcwd(), fspath(path) if not isinstance(path, bytes)
                                     else path.decode("utf-8", "replace")))
                direct = cell_of(caller)
                if direct and not path.startswith(own):
                    report("open", direct, path)
                elif not path.startswith(libraries):
                    cell = cell_of(caller, innermost=False)
                    if cell:
                        report("open", cell, path)
                return
            cell = cell_of(caller)
            if cell is None:
                return
            if event in ("object.__setattr__", "object.__delattr__"):
                owner = args[0]
                if getattr(owner, "__module__", "__main__") == "__main__":
                    return  # the submission's own classes are its own business
                detail = f"{getattr(owner, '__module__', '?')}.{getattr(owner, '__name__', '?')}.{args[1]}"
            else:
                detail = ""
            report(event, cell, detail)
        except Exception:  # noqa: BLE001 (the hook must never break the kernel)
            pass
        finally:
            state.busy = False

    sys.addaudithook(hook)


def main() -> None:
    set_limits()
    fd = int(os.environ.get("RNNKIT_AUDIT_FD", "-1"))  # the grader's probe writes to it too
    if fd >= 0:
        os.set_inheritable(fd, False)  # the submission's child processes do not get it
        install_audit_hook(fd, os.environ.get("RNNKIT_WORKDIR", os.getcwd()))
    # The grader's PID means nothing in this PID namespace (ipykernel would see its parent as
    # gone and quit); bwrap's --die-with-parent already ends the sandbox with the grader.
    os.environ.pop("JPY_PARENT_PID", None)
    from ipykernel.kernelapp import launch_new_instance

    sys.argv[0] = "ipykernel_launcher"
    launch_new_instance()


if __name__ == "__main__":
    main()
