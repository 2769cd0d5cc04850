"""Real MariaDB and PostgreSQL servers for the tests and the benchmark.

`MariaDBServer.start()` and `PostgresServer.start()` start a private server from Debian's packages
(mariadb-server, postgresql; scripts/ensure_databases.sh installs them) on 127.0.0.1 on a free
port, in a temporary directory, and create in it a database with an admin user (all rights on it)
and a read-only user (SELECT only), with random passwords. Use them as context managers: on exit
the server is stopped and its directory removed.

When YBB_TEST_MARIADB_URL / YBB_TEST_POSTGRES_URL hold the admin SQLAlchemy URL of a running
server, no process is started: a uniquely named database and the two users are created on that
server, and dropped on exit.
"""
from __future__ import annotations

import glob
import ipaddress
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, TypeVar

import psycopg
import pymysql
from psycopg import sql
from sqlalchemy.engine import URL, make_url

READY_TIMEOUT = 60.0
POLL_INTERVAL = 0.1
STOP_TIMEOUT = 30.0
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

S = TypeVar("S", bound="DatabaseServer")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, size: int = 3000) -> str:
    """The end of a server's log, for error messages."""
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError as exc:
        return f"(no log: {exc})"


def _checked_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a plain SQL name: {name!r}")
    return name


class DatabaseServer:
    """What both servers share: users, URLs, the server process and its temporary directory.

    Attributes: `host`, `port`, `database`, `admin_user`, `admin_password`, `readonly_user`,
    `readonly_password`; `admin_url` and `readonly_url` are SQLAlchemy URL strings.
    """

    kind: ClassVar[str]
    env_var: ClassVar[str]
    driver: ClassVar[str]
    default_port: ClassVar[int]
    url_query: ClassVar[dict[str, str]] = {}

    def __init__(self, database: str, admin_user: str, readonly_user: str) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.database = _checked_name(database)
        self.admin_user = _checked_name(admin_user)
        self.readonly_user = _checked_name(readonly_user)
        self.admin_password = secrets.token_hex(16)
        self.readonly_password = secrets.token_hex(16)
        self.external: URL | None = None  # the running server's admin URL, if we started none
        self.superuser_url = ""  # an URL with rights to create databases and users on the server
        self.directory: Path | None = None
        self.log_path: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._stopped = False
        self.listen: tuple[str, ...] = ()

    # -- life cycle ---------------------------------------------------------------------------

    @classmethod
    def start(cls: type[S], tmp_dir: Path | str | None = None, *, database: str = "ybb",
              admin_user: str = "ybb_admin", readonly_user: str = "ybb_readonly",
              env: Mapping[str, str] | None = None, listen: tuple[str, ...] = ()) -> S:
        """Start a private server under `tmp_dir` (default: the system's temporary directory), or
        use the running one that `env` (default: os.environ) names, and create the database and
        users. Names get a random suffix on a running server, so that runs never collide.
        `listen`: more local addresses a private server listens on, with password access from
        their /24 networks (PostgreSQL; the multi-host test's veth address)."""
        url = (os.environ if env is None else env).get(cls.env_var, "").strip()
        if url:
            suffix = "_" + secrets.token_hex(4)
            server = cls(database + suffix, admin_user + suffix, readonly_user + suffix)
            server.external = make_url(url)
            server.superuser_url = url
            server.host = server.external.host or "127.0.0.1"
            server.port = server.external.port or cls.default_port
        else:
            server = cls(database, admin_user, readonly_user)
        server.listen = listen
        try:
            if server.external is None:
                server._launch(Path(tmp_dir) if tmp_dir is not None else None)
            server._provision()
        except BaseException:
            server.stop()
            raise
        return server

    @classmethod
    def available(cls, env: Mapping[str, str] | None = None) -> bool:
        """Whether `start()` can work: a running server is named, or the binaries are installed."""
        return bool((os.environ if env is None else env).get(cls.env_var)) or cls.binaries() is not None

    @property
    def running(self) -> bool:
        """Whether our server process is alive (always True for a running server we did not start)."""
        if self.external is not None:
            return not self._stopped
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the server, to simulate "database down" (only for a server we started)."""
        if self.process is None:
            raise RuntimeError(f"kill() needs a {self.kind} server started by this object")
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        """Drop what we created on a running server, or stop ours (SIGTERM, then SIGKILL after
        STOP_TIMEOUT seconds) and remove its directory. Safe to call more than once."""
        if self._stopped:
            return
        self._stopped = True
        try:
            if self.external is not None:
                self._deprovision()
        finally:
            if self.process is not None and self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            if self.directory is not None:
                shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self: S) -> S:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- URLs -----------------------------------------------------------------------------------

    def url(self, user: str, password: str) -> str:
        """A SQLAlchemy URL of our database for one user."""
        return URL.create(self.driver, user, password, self.host, self.port, self.database,
                          self.url_query).render_as_string(hide_password=False)

    @property
    def admin_url(self) -> str:
        return self.url(self.admin_user, self.admin_password)

    @property
    def readonly_url(self) -> str:
        return self.url(self.readonly_user, self.readonly_password)

    # -- for the subclasses ------------------------------------------------------------------------

    @classmethod
    def binaries(cls) -> dict[str, str] | None:
        """Paths of the server's programs, or None when one is missing."""
        raise NotImplementedError

    def _launch(self, parent: Path | None) -> None:
        raise NotImplementedError

    def _provision(self) -> None:
        raise NotImplementedError

    def _deprovision(self) -> None:
        raise NotImplementedError

    def _make_directory(self, parent: Path | None) -> Path:
        """Our temporary directory, under `parent` unless that is too long a path for a Unix socket."""
        if parent is not None and len(str(parent.resolve())) > 70:  # a socket's path has at most 107 bytes
            parent = None
        self.directory = Path(tempfile.mkdtemp(prefix=f"ybb-{self.kind}-", dir=parent))
        self.log_path = self.directory / "server.log"
        return self.directory

    def _spawn(self, args: list[str], **kwargs: Any) -> None:
        assert self.directory is not None and self.log_path is not None
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                            cwd=self.directory, **kwargs)

    def _run(self, args: list[str], **kwargs: Any) -> None:
        """Run a setup program (initdb, mariadb-install-db); fail with its output."""
        done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=self.directory,
                              timeout=120, **kwargs)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")

    def _wait_ready(self, connect: Callable[[], Any]) -> None:
        """Poll `connect` until it works, the server exits, or READY_TIMEOUT passes."""
        assert self.process is not None and self.log_path is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                connect().close()
                return
            except Exception as exc:
                error = exc
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.process.returncode} before accepting "
                                   f"connections; the end of its log:\n{_tail(self.log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.kind} did not accept connections within {READY_TIMEOUT:.0f} s "
                                   f"(last error: {error}); the end of its log:\n{_tail(self.log_path)}")
            time.sleep(POLL_INTERVAL)


class MariaDBServer(DatabaseServer):
    """A MariaDB server (mariadbd) with the database, an admin and a read-only user.

    `with MariaDBServer.start(tmp_dir) as db: create_engine(db.admin_url)`.
    """

    kind = "mariadb"
    buffer_pool = "256M"  # InnoDB's cache; the benchmark's million participants want more
    socket: Path
    env_var = "YBB_TEST_MARIADB_URL"
    driver = "mysql+pymysql"
    default_port = 3306
    url_query = {"charset": "utf8mb4"}

    @classmethod
    def binaries(cls) -> dict[str, str] | None:
        found = {"mariadbd": shutil.which("mariadbd") or "/usr/sbin/mariadbd",
                 "install_db": shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"}
        return found if all(os.access(path, os.X_OK) for path in found.values()) else None

    def _launch(self, parent: Path | None) -> None:
        binaries = self.binaries()
        if binaries is None:
            raise RuntimeError("mariadbd or mariadb-install-db is missing: run scripts/ensure_databases.sh "
                               f"(make test does), or set {self.env_var}")
        directory = self._make_directory(parent)
        data, self.socket = directory / "data", directory / "mysql.sock"
        as_root = ["--user=root"] if os.geteuid() == 0 else []
        self._run([binaries["install_db"], "--no-defaults", f"--datadir={data}", "--skip-test-db",
                   "--auth-root-authentication-method=normal", *as_root])
        self.port = free_port()
        # A tmpdir of its own: mariadbd deletes every #sql* file in its tmpdir when it starts, so
        # with a shared /tmp a server started later deletes another's on-disk temporary tables.
        (directory / "tmp").mkdir(exist_ok=True)
        self._spawn([binaries["mariadbd"], "--no-defaults", f"--datadir={data}", f"--socket={self.socket}",
                     f"--tmpdir={directory / 'tmp'}", f"--innodb-buffer-pool-size={self.buffer_pool}",
                     f"--port={self.port}", "--bind-address=127.0.0.1", "--skip-name-resolve",
                     f"--pid-file={directory / 'mariadbd.pid'}", f"--log-error={self.log_path}", *as_root,
                     "--innodb-flush-log-at-trx-commit=2", "--skip-log-bin",
                     "--max-allowed-packet=64M", "--local-infile=1", "--character-set-server=utf8mb4",
                     "--collation-server=utf8mb4_unicode_ci"])
        self._wait_ready(self._connect_superuser)
        root_password = secrets.token_hex(16)
        with self._connect_superuser() as conn, conn.cursor() as cur:
            cur.execute("ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY %s", (root_password,))
        self.superuser_url = URL.create(self.driver, "root", root_password, self.host, self.port,
                                        query=self.url_query).render_as_string(hide_password=False)

    def _connect_superuser(self) -> pymysql.connections.Connection:
        """Root over our Unix socket, or the running server's admin URL."""
        if self.external is None:
            return pymysql.connect(unix_socket=str(self.socket), user="root", charset="utf8mb4", autocommit=True,
                                   connect_timeout=5)
        return pymysql.connect(host=self.host, port=self.port, user=self.external.username or "root",
                               password=self.external.password or "", charset="utf8mb4", autocommit=True,
                               connect_timeout=10)

    def _provision(self) -> None:
        db = f"`{self.database}`"
        with self._connect_superuser() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            for user, password in ((self.admin_user, self.admin_password),
                                   (self.readonly_user, self.readonly_password)):
                cur.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (password,))
            cur.execute(f"GRANT ALL PRIVILEGES ON {db}.* TO '{self.admin_user}'@'%'")
            cur.execute(f"GRANT SELECT ON {db}.* TO '{self.readonly_user}'@'%'")

    def _deprovision(self) -> None:
        with self._connect_superuser() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{self.database}`")
            cur.execute(f"DROP USER IF EXISTS '{self.admin_user}'@'%', '{self.readonly_user}'@'%'")


class PostgresServer(DatabaseServer):
    """A PostgreSQL server with the database, an admin user (its owner) and a read-only user.

    As root, initdb and postgres run as the `postgres` system user, which owns the data directory.
    """

    kind = "postgres"
    socket_dir: Path
    env_var = "YBB_TEST_POSTGRES_URL"
    driver = "postgresql+psycopg"
    default_port = 5432

    @classmethod
    def binaries(cls) -> dict[str, str] | None:
        def version(initdb: str) -> int:
            number = Path(initdb).parent.parent.name
            return int(number) if number.isdigit() else 0

        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
        initdb = found[-1] if found else shutil.which("initdb")
        if initdb is None:
            return None
        postgres = str(Path(initdb).with_name("postgres"))
        return {"initdb": initdb, "postgres": postgres} if os.access(postgres, os.X_OK) else None

    def _launch(self, parent: Path | None) -> None:
        binaries = self.binaries()
        if binaries is None:
            raise RuntimeError("PostgreSQL's initdb is missing: run scripts/ensure_databases.sh (make test does), "
                               f"or set {self.env_var}")
        as_user: dict[str, Any] = {}
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            as_user = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
            if parent is not None and not _reachable_by_others(parent):
                parent = None  # e.g. pytest's /tmp/pytest-of-root is 0700: use the system's /tmp
        directory = self._make_directory(parent)
        if as_user:
            os.chown(directory, as_user["user"], as_user["group"])
        self.socket_dir = directory
        superuser_password = secrets.token_hex(16)
        password_file = directory / "superuser-password"
        password_file.write_text(superuser_password + "\n")
        if as_user:
            os.chown(password_file, as_user["user"], as_user["group"])
        self._run([binaries["initdb"], "-D", str(directory / "data"), "-U", "postgres", "-A", "trust",
                   "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={password_file}", "-E", "UTF8",
                   "--locale=C.UTF-8", "--no-sync"], **as_user)
        password_file.unlink()
        with open(directory / "data" / "pg_hba.conf", "a", encoding="utf-8") as hba:
            for address in self.listen:
                hba.write(f"host all all {ipaddress.ip_network(f'{address}/24', strict=False)} scram-sha-256\n")
        self.port = free_port()
        self._spawn([binaries["postgres"], "-D", str(directory / "data"), "-p", str(self.port),
                     "-c", f"listen_addresses={','.join(('127.0.0.1', *self.listen))}", "-k", str(self.socket_dir),
                     "-c", "fsync=off",
                     "-c", "synchronous_commit=off", "-c", "full_page_writes=off"], **as_user)
        self._wait_ready(self._connect_superuser)
        self.superuser_url = URL.create(self.driver, "postgres", superuser_password, self.host, self.port,
                                        "postgres").render_as_string(hide_password=False)

    def _connect_superuser(self) -> psycopg.Connection[Any]:
        """postgres over our Unix socket, or the running server's admin URL."""
        if self.external is None:
            return psycopg.connect(host=str(self.socket_dir), port=self.port, user="postgres", dbname="postgres",
                                   autocommit=True, connect_timeout=5)
        return psycopg.connect(host=self.host, port=self.port, user=self.external.username or "postgres",
                               password=self.external.password or "", dbname=self.external.database or "postgres",
                               autocommit=True, connect_timeout=10)

    def _provision(self) -> None:
        db, admin, readonly = (sql.Identifier(name) for name in (self.database, self.admin_user, self.readonly_user))
        with self._connect_superuser() as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(admin, sql.Literal(self.admin_password)))
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                readonly, sql.Literal(self.readonly_password)))
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'").format(db, admin))
        # The rest as the database's owner, over TCP with its password (which checks that too).
        with psycopg.connect(host=self.host, port=self.port, user=self.admin_user, password=self.admin_password,
                             dbname=self.database, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, readonly))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(readonly))
            conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(readonly))
            conn.execute(sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {}")
                         .format(readonly))

    def _deprovision(self) -> None:
        with self._connect_superuser() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.database)))
            for role in (self.readonly_user, self.admin_user):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _reachable_by_others(path: Path) -> bool:
    """Whether every directory from / to `path` lets other users through (o+x)."""
    path = path.resolve()
    return all(os.stat(part).st_mode & stat.S_IXOTH for part in (path, *path.parents))
