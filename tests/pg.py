"""A throwaway PostgreSQL server for tests: `postgres_url` is the SQLAlchemy URL of a new database.

The server (one per test module) is the machine's own PostgreSQL (Debian's, `make postgres`),
started from scratch in a temporary folder: `initdb` there, trust authentication, no TCP at all
(it listens on a Unix socket in that folder only), fsync off. It is stopped and the folder
removed when the module's tests end, passed or failed. PostgreSQL refuses to run as root, so
as root the server runs as the `postgres` user and the folder is handed to it.
Nothing needs to be running beforehand; the tests are skipped only if PostgreSQL is not
installed.
"""
from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

START_SECONDS = 60  # initdb ~1 s and start ~0.2 s here; a loaded CI machine gets room


def _bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin/ (Debian keeps it off the PATH), or None."""
    def version(initdb: str) -> list[int]:  # /usr/lib/postgresql/15/bin/initdb -> [15]
        return [int(n) for n in re.findall(r"\d+", Path(initdb).parts[-3])]

    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if found:
        return Path(max(found, key=version)).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Server:
    """One running server; `url(name)` creates a database and returns its SQLAlchemy URL."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        # In the system's temp folder (short: a socket path has at most 107 bytes), not in
        # pytest's, which is root's and closed to the `postgres` user.
        self.dir = Path(tempfile.mkdtemp(prefix="rnnkit-pg-"))
        self.user = {}  # as root: the subprocess arguments that run a program as `postgres`
        self.proc = None

    def _run(self, *args: str) -> None:
        proc = subprocess.run([str(self.bin_dir / args[0]), *args[1:]], cwd=self.dir,
                              capture_output=True, text=True, timeout=START_SECONDS, **self.user)
        if proc.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")

    def start(self) -> None:
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")  # Debian's package creates this user
            except KeyError:
                raise RuntimeError("PostgreSQL will not run as root, and there is no `postgres` "
                                   "user to run it as") from None
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self.user = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
        self._run("initdb", "-D", str(self.dir / "data"), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync", "--no-instructions")
        self.resume()

    def resume(self) -> None:
        """Start the server on its data folder (again, after `pause`) and wait until it answers."""
        data = self.dir / "data"
        # Our own child, not pg_ctl's daemon: we stop it and reap it ourselves.
        with open(self.dir / "server.log", "a") as log:
            self.proc = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(data), "-c", "listen_addresses=",
                 "-c", f"unix_socket_directories={self.dir}", "-c", "fsync=off",
                 "-c", "full_page_writes=off"],
                cwd=self.dir, stdout=log, stderr=subprocess.STDOUT, **self.user)
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                self.connect().close()
                return
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("PostgreSQL did not start:\n" + self.log()) from None
                time.sleep(0.1)

    def connect(self, dbname: str = "postgres"):
        import psycopg

        return psycopg.connect(host=str(self.dir), user="postgres", dbname=dbname,
                               autocommit=True, connect_timeout=5)

    def url(self, name: str) -> str:
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@/{name}?host={self.dir}"

    def log(self) -> str:
        path = self.dir / "server.log"
        return path.read_text()[-4000:] if path.is_file() else ""

    def pause(self) -> None:
        """Shut the server down (fast: clients are disconnected), keeping its data."""
        self._shutdown()

    def stop(self) -> None:
        """Fast shutdown (clients are disconnected), harder if it hangs; remove the folder."""
        self._shutdown()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _shutdown(self) -> None:
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL):  # fast, immediate, kill
            if self.proc is None or self.proc.poll() is not None:
                break
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass


@pytest.fixture(scope="module")
def postgres_server():
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb, no initdb "
                    "on the PATH); `make postgres` installs Debian's")
    server = Server(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(request, postgres_server) -> str:
    """A new, empty database on the module's server, named after the test."""
    return postgres_server.url(re.sub(r"\W", "_", request.node.name)[:60].lower())
