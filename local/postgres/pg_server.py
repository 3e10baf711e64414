"""A throwaway PostgreSQL server for tests and the demo: initdb in a temporary folder, loopback only.

`start_postgres()` is a context manager: it finds the server binaries (`find_bindir`), creates a cluster
in a fresh temporary folder, starts it on a free 127.0.0.1 port with its Unix socket inside that folder
(nothing under /var/run is touched), yields a `PostgresServer` and always stops it and deletes the folder.

Decisions:
- initdb refuses to run as root. When this process is root, the server runs as the `postgres` system user
  (present wherever the Debian/Ubuntu postgresql packages are) or else `nobody` (present on every stock
  image), through subprocess's own setuid (`user=`/`group=`), so no sudo/runuser is needed. The cluster
  folder is created under the system temporary folder, which every user can traverse.
- The superuser `postgres` gets a random password and scram-sha-256 authentication: other local users of
  the machine cannot connect to the loopback port for free. The password is only in `server.dsn`.
- Durability is switched off (fsync, synchronous_commit, full_page_writes): the data dies with the folder.
- Locale C with UTF8 encoding: output formats (money, dates) do not depend on the machine's locales.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPERUSER = "postgres"
PREFERRED_MAJOR = 15
_DEFAULT_BINDIRS = (f"/usr/lib/postgresql/{PREFERRED_MAJOR}/bin",)
_SYSTEM_USERS = ("postgres", "nobody")
_START_ATTEMPTS = 3  # a free port can be taken by someone else between our probe and the server's bind


class PostgresNotFound(RuntimeError):
    """No usable initdb/pg_ctl on this machine; the message lists where they were looked for."""


class PostgresStartError(RuntimeError):
    """initdb or pg_ctl failed; the message carries their output and the server log."""


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    datadir: Path
    bindir: Path
    version: str

    def dsn(self, dbname: str = "postgres") -> str:
        """A libpq key/value connection string for `dbname` on this server (quoted for any name)."""
        return " ".join(
            f"{key}={_conninfo_quote(value)}"
            for key, value in (
                ("host", self.host),
                ("port", str(self.port)),
                ("user", self.user),
                ("password", self.password),
                ("dbname", dbname),
            )
        )


def _conninfo_quote(value: str) -> str:
    # libpq conninfo: single quotes around the value, backslash escapes ' and \.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _has_tools(bindir: Path) -> bool:
    return all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres"))


def find_bindir(candidates: tuple[str, ...] | None = None) -> Path:
    """The folder holding initdb, pg_ctl and postgres.

    Looked for in order: $PG_BINDIR, `pg_config --bindir`, /usr/lib/postgresql/15/bin, the newest
    /usr/lib/postgresql/*/bin, the folder of `initdb` on PATH (resolving symlinks). `candidates` replaces
    that whole list (tests).
    """
    if candidates is None:
        found: list[str] = []
        if os.environ.get("PG_BINDIR"):
            found.append(os.environ["PG_BINDIR"])
        pg_config = shutil.which("pg_config")
        if pg_config:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                found.append(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10).stdout)
        found.extend(_DEFAULT_BINDIRS)
        found.extend(sorted((str(p) for p in Path("/usr/lib/postgresql").glob("*/bin")), reverse=True))
        initdb = shutil.which("initdb")
        if initdb:
            found.append(str(Path(initdb).resolve().parent))
        candidates = tuple(found)
    for candidate in candidates:
        path = Path(candidate.strip())
        if candidate.strip() and _has_tools(path):
            return path
    raise PostgresNotFound(
        "no folder with initdb, pg_ctl and postgres among "
        + (", ".join(repr(c.strip()) for c in candidates) or "(no candidates)")
        + "; install the PostgreSQL server package (Debian: postgresql-15) or set PG_BINDIR"
    )


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged account the server runs as when we are root, else None (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in _SYSTEM_USERS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresStartError(f"running as root and none of the users {_SYSTEM_USERS} exists to run the server")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(command: list[str], account: pwd.struct_passwd | None, cwd: Path, timeout: float) -> str:
    kwargs: dict[str, Any] = {}
    if account is not None:
        kwargs = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    # A minimal environment: PG* variables of the caller (PGDATA, PGPORT...) must not steer the tools.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(cwd)}
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    if result.returncode != 0:
        raise PostgresStartError(
            f"{' '.join(command)} exited with {result.returncode}:\n{result.stdout}\n{result.stderr}".rstrip()
        )
    return result.stdout


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


@contextlib.contextmanager
def start_postgres(bindir: Path | None = None, *, timeout: float = 60) -> Iterator[PostgresServer]:
    """Starts a private PostgreSQL server; stops it and deletes its files on exit, whatever happens."""
    bindir = bindir or find_bindir()
    account = _run_as()
    workdir = Path(tempfile.mkdtemp(prefix="aurora-sor-pg-"))
    try:
        if account is not None:
            os.chown(workdir, account.pw_uid, account.pw_gid)
        server = _init_and_start(bindir, account, workdir, timeout)
        try:
            yield server
        finally:
            # Immediate: the cluster is discarded, a clean shutdown checkpoint would only cost time.
            with contextlib.suppress(PostgresStartError, subprocess.TimeoutExpired):
                _run(
                    [str(bindir / "pg_ctl"), "-D", str(server.datadir), "-m", "immediate", "-w", "stop"],
                    account,
                    workdir,
                    timeout,
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _init_and_start(bindir: Path, account: pwd.struct_passwd | None, workdir: Path, timeout: float) -> PostgresServer:
    datadir = workdir / "data"
    password = secrets.token_urlsafe(24)
    pwfile = workdir / "pwfile"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    if account is not None:
        os.chown(pwfile, account.pw_uid, account.pw_gid)
    initdb = [
        str(bindir / "initdb"),
        "-D", str(datadir),
        "-U", SUPERUSER,
        f"--pwfile={pwfile}",
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--no-locale",
        "--no-sync",
    ]  # fmt: skip
    try:
        _run(initdb, account, workdir, timeout)
    finally:
        pwfile.unlink(missing_ok=True)
    version = _run([str(bindir / "postgres"), "--version"], account, workdir, timeout).strip()
    log = workdir / "server.log"
    base_settings = {
        "listen_addresses": "'127.0.0.1'",
        "unix_socket_directories": f"'{workdir}'",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "30",
    }
    errors = []
    for _ in range(_START_ATTEMPTS):
        port = _free_port()
        settings = {**base_settings, "port": str(port)}
        # postgresql.auto.conf is read last and rewritten whole each attempt, so the last port wins.
        (datadir / "postgresql.auto.conf").write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
        try:
            _run(
                [str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(log), "-w", "-t", str(int(timeout)), "start"],
                account,
                workdir,
                timeout + 5,
            )
        except (PostgresStartError, subprocess.TimeoutExpired) as error:
            errors.append(f"port {port}: {error}\n{_tail(log)}")
            time.sleep(0.2)
            continue
        return PostgresServer("127.0.0.1", port, SUPERUSER, password, datadir, bindir, version)
    raise PostgresStartError("PostgreSQL did not start:\n" + "\n---\n".join(errors))
