"""The sandbox a submission's kernel runs in: bubblewrap, an unprivileged user, cgroup limits.

Only the kernel, and whatever it starts, runs inside. The process that drives execution and
reads the results (nbgrader, in the trusted grading process) stays outside and talks to the
kernel over ZeroMQ ``ipc`` sockets in a folder bound into the sandbox; the kernel has no
network at all, not even the host's loopback.

What the kernel sees (everything else of the host's file system does not exist for it)::

    /usr /bin /lib* /etc /sys     read-only (the system's programs and libraries)
    sys.prefix, sys.base_prefix   read-only (the Python environment)
    the rnnkit package folder     read-only (an editable install lives in the course folder)
    /submission                   its working folder, in memory, gone afterwards
    /tmp                          private, in memory, gone afterwards
    the socket folder             the five kernel sockets and the connection file

It runs as user ``nobody`` (65534) in new user, PID, network, IPC and UTS namespaces, with no
capabilities. When the kernel ends, for any reason, the PID namespace ends with it, and with
it every process the submission started; ``--die-with-parent`` does the same if the grader
dies. Memory and the number of processes are capped per submission with cgroup v1 groups
(``memory``, ``pids``) where the machine has them, and always with rlimits inside (CPU time,
file size, no core dumps; processes of ``nobody`` when there is no pids group).
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

NOBODY = 65534
WORKDIR = "/submission"
CGROUP_ROOT = Path("/sys/fs/cgroup")
INSTALL_HINT = ("bubblewrap (bwrap) is not installed: run `make sandbox` as root (or "
                "`apt-get install bubblewrap`), or pass --no-sandbox to grade trusted "
                "notebooks without isolation")


class SandboxUnavailable(RuntimeError):
    """The sandbox tool is missing or cannot start on this machine."""


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Defaults fit the heaviest chapter with room to spare.

    Measured in the sandbox (cgroup peak, page cache included): every chapter's reference
    solution peaks at 405-540 MB, the heaviest being chapter 4 (torch, TensorFlow and the LSTM
    gradient checks); 4096 MB leaves more than seven times that.
    """

    memory_mb: int = 4096        # resident memory of the whole sandbox (cgroup)
    processes: int = 128         # processes and threads of the whole sandbox (cgroup pids)
    cpu_seconds: int = 900       # CPU time of any one process (RLIMIT_CPU)
    file_mb: int = 256           # largest file it may write (RLIMIT_FSIZE)
    output_mb: float = 16        # notebook output kept per submission; the rest is dropped
    cell_seconds: int = 60       # wall time of one cell (nbgrader's Execute.timeout)
    submission_seconds: int = 600  # wall time of the whole submission

    def as_env(self) -> dict:
        return {k: str(v) for k, v in asdict(self).items()}


def bwrap_path() -> str:
    """The bwrap executable, or SandboxUnavailable with how to install it."""
    path = shutil.which("bwrap")
    if not path:
        raise SandboxUnavailable(INSTALL_HINT)
    return path


def check_available() -> None:
    """Start an empty sandbox once; raise SandboxUnavailable saying why it cannot start."""
    cmd = [*_drop_privileges(), bwrap_path(), "--unshare-all", "--die-with-parent",
           "--ro-bind", "/usr", "/usr", *_usr_links(), "--proc", "/proc", "--dev", "/dev",
           "true"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SandboxUnavailable(f"bwrap cannot start a sandbox here: {proc.stderr.strip()} "
                                 f"(it needs user namespaces; as root, this machine's "
                                 f"unprivileged user must be allowed to create them)")


def _drop_privileges() -> list[str]:
    """Become `nobody` before bwrap starts, so nothing inside holds the grader's rights."""
    if os.geteuid() != 0:
        return []  # already unprivileged; bwrap maps this user inside
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def _usr_links() -> list[str]:
    """Debian's merged /usr: /bin, /lib, ... are links into it."""
    out = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            out += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            out += ["--ro-bind", str(host), f"/{name}"]
    return out


def _python_roots() -> list[str]:
    """Folders the kernel's Python needs: the environment, its base, and the rnnkit package."""
    import rnnkit

    roots = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    roots.add(str(Path(rnnkit.__file__).resolve().parent))
    # Keep the most general: an editable rnnkit inside the environment needs no bind of its own.
    return sorted(r for r in roots if not any(r != o and r.startswith(o + os.sep) for o in roots))


def bwrap_command(socket_dir: str, roots: dict[str, str], inner: list[str]) -> list[str]:
    """The command that runs ``inner`` in the sandbox (see the module docstring).

    ``roots`` maps each Python folder to where bwrap, running as `nobody`, can reach it.
    """
    cmd = [*_drop_privileges(), bwrap_path(), "--unshare-all", "--die-with-parent",
           "--new-session", "--cap-drop", "ALL",
           "--ro-bind", "/usr", "/usr", *_usr_links(),
           "--ro-bind", "/etc", "/etc", "--ro-bind", "/sys", "/sys",
           "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
           "--dir", WORKDIR, "--chdir", WORKDIR]
    for root, reachable in roots.items():
        cmd += ["--ro-bind", reachable, root]
    cmd += ["--bind", socket_dir, socket_dir]
    return [*cmd, *inner]


def launch_script(socket_dir: str, cgroups: "Cgroups | None", inner: list[str]) -> list[str]:
    """The whole launch: join the cgroups, stage the Python folders, drop to `nobody`, bwrap.

    As root, the Python folders may sit where `nobody` cannot reach them (a Python under
    /root, a clone in a 0700 temporary folder). They are bind-mounted read-only into the socket
    folder, in a mount namespace of the launch's own (``unshare --mount``), so the host's
    mounts are untouched and the staging ends with the sandbox.
    """
    enter = cgroups.enter_script() if cgroups else ""
    if os.geteuid() != 0:
        roots = {r: r for r in _python_roots()}
        return ["/bin/sh", "-c", enter + 'exec "$@"', "sh",
                *bwrap_command(socket_dir, roots, inner)]
    roots, mounts = {}, ""
    for k, root in enumerate(_python_roots()):
        stage = os.path.join(socket_dir, f"root{k}")
        os.mkdir(stage, 0o755)
        roots[root] = stage
        q_root, q_stage = shlex.quote(root), shlex.quote(stage)
        mounts += f"mount --bind {q_root} {q_stage} && mount -o remount,bind,ro {q_stage} && "
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
            enter + mounts + 'exec "$@"', "sh", *bwrap_command(socket_dir, roots, inner)]


# ---------------------------------------------------------------------------------------------
# cgroups: per-submission memory and process caps, and a reliable "kill everything"


@dataclass
class Cgroups:
    """One `memory` and one `pids` group (cgroup v1) for one submission, where available."""

    # The creating process's pid in the name: a later run removes the groups of one that died.
    name: str = field(default_factory=lambda: f"rnnkit-{os.getpid()}-{uuid.uuid4().hex[:12]}")
    paths: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def existing(cls, name: str) -> "Cgroups":
        """The groups `create` made under this name (in another process)."""
        return cls(name, {c: CGROUP_ROOT / c / name for c in ("memory", "pids")
                          if (CGROUP_ROOT / c / name / "cgroup.procs").is_file()})

    @classmethod
    def create(cls, limits: Limits) -> "Cgroups":
        cls.remove_orphans()
        groups = cls()
        for controller, knob, value in (("memory", "memory.limit_in_bytes", limits.memory_mb << 20),
                                        ("pids", "pids.max", limits.processes)):
            base = CGROUP_ROOT / controller
            if not (base / "cgroup.procs").is_file() or not os.access(base, os.W_OK):
                continue
            path = base / groups.name
            try:
                path.mkdir()
                (path / knob).write_text(str(value))
                if controller == "memory":  # no swap to hide in, where the knob exists
                    swap = path / "memory.memsw.limit_in_bytes"
                    if swap.exists():
                        swap.write_text(str(value))
            except OSError:
                shutil.rmtree(path, ignore_errors=True)
                continue
            groups.paths[controller] = path
        return groups

    @staticmethod
    def remove_orphans() -> None:
        """Remove the groups of grading processes that were killed before they could (a worker
        killed mid-task): their processes are gone (the sandbox dies with its parent)."""
        for controller in ("memory", "pids"):
            base = CGROUP_ROOT / controller
            for path in base.glob("rnnkit-*-*") if base.is_dir() else ():
                try:
                    os.kill(int(path.name.split("-")[1]), 0)
                    continue  # its creator is alive
                except ProcessLookupError:
                    pass
                except (ValueError, OSError):
                    continue
                Cgroups(path.name, {controller: path}).remove()

    def enter_script(self) -> str:
        """Shell lines that move the shell (then exec'd into the sandbox) into the groups."""
        return "".join(f"echo $$ > {p / 'cgroup.procs'} && " for p in self.paths.values())

    def pids(self) -> set[int]:
        found = set()
        for path in self.paths.values():
            try:
                found |= {int(x) for x in (path / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return found

    def peak_memory_mb(self) -> float | None:
        path = self.paths.get("memory")
        try:
            return int((path / "memory.max_usage_in_bytes").read_text()) / 2**20 if path else None
        except OSError:
            return None

    def hit_memory_limit(self) -> bool:
        """Whether the kernel of the memory group killed a process for going over the limit."""
        path = self.paths.get("memory")
        try:
            control = (path / "memory.oom_control").read_text().split() if path else []
        except OSError:
            return False
        return "oom_kill" in control and int(control[control.index("oom_kill") + 1]) > 0

    def kill_all(self) -> None:
        """SIGKILL every process still in the groups, until none is left."""
        import signal
        import time

        for _ in range(100):
            left = self.pids()
            if not left:
                return
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)

    def remove(self) -> None:
        self.kill_all()
        for path in self.paths.values():
            try:
                path.rmdir()
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------
# The kernel manager nbgrader's Execute uses: same protocol, kernel started in the sandbox


KERNEL_ENV = ("LANG", "LC_ALL", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "TF_CPP_MIN_LOG_LEVEL",
              "RNNKIT_PROGRESS", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED")


def kernel_env(limits: Limits, audit_fd: int) -> dict:
    """The kernel's whole environment: none of the grader's variables (URLs, tokens) leak in."""
    env = {k: os.environ[k] for k in KERNEL_ENV if k in os.environ}
    env.update(PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin", HOME="/tmp",
               MPLCONFIGDIR="/tmp/matplotlib", KERAS_HOME="/tmp/keras", TMPDIR="/tmp",
               PYTHONUNBUFFERED="1", PYDEVD_DISABLE_FILE_VALIDATION="1",
               RNNKIT_AUDIT_FD=str(audit_fd), RNNKIT_WORKDIR=WORKDIR,
               **{f"RNNKIT_LIMIT_{k.upper()}": v for k, v in limits.as_env().items()})
    return env


class _Tail(threading.Thread):
    """Reads a pipe to its end, keeping only the last `keep` bytes (a kernel's stderr)."""

    def __init__(self, fd: int, keep: int = 8192):
        super().__init__(daemon=True)
        self.fd, self.keep, self.data = fd, keep, b""

    def run(self):
        with os.fdopen(self.fd, "rb", buffering=0) as fh:
            while chunk := fh.read(65536):
                self.data = (self.data + chunk)[-self.keep:]


class SandboxedKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernel runs in the sandbox, over ipc sockets.

    ``audit`` is the read end of a pipe whose write end only the kernel's launcher holds
    (rnnkit.grading.kernel): the grader reads what the audit hook saw from it.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.socket_dir = tempfile.mkdtemp(prefix="rnnkit-k-")  # short: ipc paths are <108 chars
        os.chown(self.socket_dir, NOBODY, NOBODY) if os.geteuid() == 0 else None
        self.transport = "ipc"
        self.ip = os.path.join(self.socket_dir, "kernel")
        self.connection_file = os.path.join(self.socket_dir, "kernel.json")
        self.limits = Limits(**limits_from_env())
        group = os.environ.get("RNNKIT_CGROUP")
        self.cgroups = Cgroups.existing(group) if group else None
        self.audit_reader: _AuditReader | None = None
        self.stderr_tail: _Tail | None = None

    def format_kernel_cmd(self, extra_arguments=None):
        """The command inside the sandbox; _async_launch_kernel wraps it in bwrap."""
        # By path, not `-m rnnkit.grading.kernel`: importing the rnnkit package (and NumPy with
        # it) before the kernel starts costs ~1 s per submission. -P: its folder is not on
        # sys.path (its modules must not shadow the notebook's imports).
        return [sys.executable, "-P", str(Path(__file__).with_name("kernel.py")), "-f",
                self.connection_file, *(extra_arguments or [])]

    async def _async_interrupt_kernel(self):
        """Interrupt by message (ipykernel then signals itself inside the sandbox): a SIGINT to
        the process this manager started would reach only bwrap, which does not pass it on."""
        if self.shutting_down:
            return  # jupyter_client interrupts before every shutdown; it only slows this one
        if self.kernel_spec is not None:
            self.kernel_spec.interrupt_mode = "message"
        await super()._async_interrupt_kernel()

    interrupt_kernel = _async_interrupt_kernel  # AsyncKernelManager binds the base's by name

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        if os.geteuid() == 0:  # the kernel (nobody) must read the connection file
            os.chown(self.connection_file, NOBODY, NOBODY)
        read_audit, write_audit = os.pipe()
        read_err, write_err = os.pipe()
        cmd = launch_script(self.socket_dir, self.cgroups, kernel_cmd)
        kw.update(env=kernel_env(self.limits, write_audit), pass_fds=(write_audit,),
                  cwd="/", stdout=subprocess.DEVNULL, stderr=write_err, stdin=subprocess.DEVNULL)
        kw.pop("independent", None)
        try:
            await super()._async_launch_kernel(cmd, **kw)
        finally:
            os.close(write_audit)
            os.close(write_err)
        self.audit_reader = _AuditReader(read_audit)
        self.audit_reader.start()
        self.stderr_tail = _Tail(read_err)
        self.stderr_tail.start()

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart)
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources  # as above: the public name is bound by value


class _AuditReader(threading.Thread):
    """Collects the JSON lines the kernel's audit hook writes, as they are written."""

    def __init__(self, fd: int, max_lines: int = 10000):
        super().__init__(daemon=True)
        self.fd, self.max_lines, self.lines = fd, max_lines, []

    def run(self):
        with os.fdopen(self.fd, "rb", buffering=0) as fh:
            buffer = b""
            while chunk := fh.read(65536):
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                room = self.max_lines - len(self.lines)
                self.lines += [ln.decode("utf-8", "replace") for ln in complete[:max(room, 0)]]
                buffer = buffer[-65536:]


def limits_from_env() -> dict:
    """Limits handed to the trusted nbgrader process by `rnnkit grade` (RNNKIT_LIMIT_*)."""
    out = {}
    for name in Limits.__dataclass_fields__:
        value = os.environ.get(f"RNNKIT_LIMIT_{name.upper()}")
        if value is not None:
            out[name] = float(value) if "." in value else int(value)
    return out
