"""A throw-away PostgreSQL server on a free local port, for testing the Postgres-backed Dagster instance.

PostgreSQL refuses to run as root: when we are root, every server command runs as an unprivileged
user through `runuser` (the `nobody` account unless REXAI_PG_USER names another).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from rexai_assets.ops.devserver import HOST, free_port

SUPERUSER = "rexai"
DATABASE = "dagster"


class PostgresUnavailable(RuntimeError):
    """The binaries are missing or cannot run here (the reason says which)."""


@dataclass(frozen=True)
class PostgresServer:
    port: int
    data_dir: Path
    user: str = SUPERUSER
    database: str = DATABASE
    host: str = HOST

    def url(self, database: str | None = None) -> str:
        return f"postgresql+psycopg2://{self.user}@{self.host}:{self.port}/{database or self.database}"

    def connect(self, database: str | None = None):
        import psycopg2

        return psycopg2.connect(host=self.host, port=self.port, user=self.user, dbname=database or self.database)

    def dagster_env(self) -> dict[str, str]:
        """The DAGSTER_PG_* variables that deploy/dagster.yaml reads, pointing at this server."""
        return {"DAGSTER_PG_USERNAME": self.user, "DAGSTER_PG_PASSWORD": "unused-with-trust-auth",
                "DAGSTER_PG_HOST": self.host, "DAGSTER_PG_DB": self.database, "DAGSTER_PG_PORT": str(self.port)}


def find_binaries() -> dict[str, str]:
    """initdb, pg_ctl and postgres from PATH or a Debian /usr/lib/postgresql/<v>/bin; {} when absent."""
    found = {name: shutil.which(name) for name in ("initdb", "pg_ctl", "postgres")}
    if all(found.values()):
        return found  # type: ignore[return-value]
    for bin_dir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        candidate = {name: str(Path(bin_dir) / name) for name in found}
        if all(Path(p).exists() for p in candidate.values()):
            return candidate
    return {}


def _run_as() -> tuple[list[str], pwd.struct_passwd | None]:
    if os.geteuid() != 0:
        return [], None
    name = os.environ.get("REXAI_PG_USER", "nobody")
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        raise PostgresUnavailable(f"running as root and there is no user {name!r} to run PostgreSQL as") from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresUnavailable("running as root and `runuser` is missing: PostgreSQL refuses to run as root")
    return [runuser, "-u", name, "--"], account


@contextmanager
def throwaway_postgres(timeout_s: float = 60.0) -> Iterator[PostgresServer]:
    """Start PostgreSQL in a fresh temporary directory, create database `dagster`; stop and delete on exit."""
    binaries = find_binaries()
    if not binaries:
        raise PostgresUnavailable("PostgreSQL binaries (initdb, pg_ctl, postgres) not found")
    prefix, account = _run_as()
    port = free_port()
    if port is None:
        raise PostgresUnavailable(f"no free TCP port on {HOST}")
    base = Path(tempfile.mkdtemp(prefix="rexai-pg-"))
    data_dir, socket_dir, log = base / "data", base / "socket", base / "postgres.log"
    started = False
    try:
        socket_dir.mkdir()
        if account is not None:
            # The server user must reach and own its folders; the parent stays root's.
            os.chmod(base, 0o755)
            for path in (base, socket_dir):
                os.chown(path, account.pw_uid, account.pw_gid)
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        _check(prefix + [binaries["initdb"], "-D", str(data_dir), "-U", SUPERUSER, "--auth=trust",
                         "-E", "UTF8", "--no-sync"], env, cwd=base)
        options = f"-c listen_addresses={HOST} -p {port} -k {socket_dir} -c fsync=off -c full_page_writes=off"
        _check(prefix + [binaries["pg_ctl"], "-D", str(data_dir), "-l", str(log), "-w", "-t", str(int(timeout_s)),
                         "-o", options, "start"], env, cwd=base)
        started = True
        server = PostgresServer(port, data_dir)
        _create_database(server, timeout_s)
        yield server
    finally:
        if started:
            subprocess.run(prefix + [find_binaries()["pg_ctl"], "-D", str(data_dir), "-m", "fast", "-w", "stop"],
                           capture_output=True, text=True, timeout=60, cwd=base)
        shutil.rmtree(base, ignore_errors=True)


def _check(command: list[str], env: dict[str, str], cwd: Path) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=120,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-2:]
        program = Path(command[command.index("--") + 1] if "--" in command else command[0]).name
        raise PostgresUnavailable(f"{program} failed (exit {result.returncode}): {' | '.join(tail)}")


def _create_database(server: PostgresServer, timeout_s: float) -> None:
    import psycopg2

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn = server.connect("postgres")
            break
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{server.database}"')
    finally:
        conn.close()
