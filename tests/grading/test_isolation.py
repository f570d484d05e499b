"""What a process in the grading sandbox (rnnkit.grading.sandbox) can see and do.

A small Python program runs inside through the same launch the kernel uses, and reports
what it finds; a listener on the host's loopback counts who reached it.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

import rnnkit
from rnnkit.grading import sandbox

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="no bubblewrap: make sandbox")

PROBE = """
import json, os, socket, sys
out = {"uid": os.getuid(), "cwd": os.getcwd(), "root": sorted(os.listdir("/"))}
out["sees"] = {p: os.path.exists(p) for p in sys.argv[1:]}
def can_write(path):
    try:
        with open(path, "a"):
            return True
    except OSError:
        return False
out["writes"] = {p: can_write(p) for p in (os.path.join(sys.prefix, "x"), "/tmp/x", "x")}
try:
    socket.create_connection(("127.0.0.1", int(os.environ["PORT"])), timeout=2)
    out["network"] = True
except OSError:
    out["network"] = False
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def inside():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    socket_dir = tempfile.mkdtemp(prefix="rnnkit-t-")
    if os.geteuid() == 0:
        os.chown(socket_dir, sandbox.NOBODY, sandbox.NOBODY)
    # The home's own files (not the folders the Python environment lies in, which the sandbox
    # recreates as empty paths to its read-only binds).
    roots = sandbox._python_roots()
    home = [str(p) for p in Path.home().iterdir() if not any(r.startswith(str(p) + os.sep)
                                                              for r in roots)]
    secret = [str(ROOT / "solutions"), str(ROOT / "nbgrader_config.py"), str(ROOT / "tests"),
              *home, sys.prefix, str(Path(rnnkit.__file__).parent)]
    cmd = sandbox.launch_script(socket_dir, None, [sys.executable, "-c", textwrap.dedent(PROBE),
                                                   *secret])
    env = {"PATH": "/usr/bin:/bin", "PORT": str(listener.getsockname()[1])}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, cwd="/")
    try:
        listener.accept()
        reached = True
    except OSError:
        reached = False
    listener.close()
    shutil.rmtree(socket_dir, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), reached


def test_runs_as_nobody_in_its_own_folder(inside):
    out, _ = inside
    assert out["uid"] == sandbox.NOBODY and out["cwd"] == sandbox.WORKDIR


def test_sees_the_python_environment_but_no_course_file_or_home(inside):
    """The environment and rnnkit are there (read-only); solutions, config, tests and the
    files in the grader's home are not."""
    sees = inside[0]["sees"]
    assert sees[sys.prefix] and sees[str(Path(rnnkit.__file__).parent)]
    hidden = [p for p, seen in sees.items() if seen and p not in (sys.prefix, str(Path(rnnkit.__file__).parent))]
    assert not hidden, hidden


def test_writes_only_to_its_folder_and_tmp(inside):
    writes = inside[0]["writes"]
    assert writes == {os.path.join(sys.prefix, "x"): False, "/tmp/x": True, "x": True}


def test_no_network_not_even_the_hosts_loopback(inside):
    out, reached = inside
    assert out["network"] is False and reached is False
