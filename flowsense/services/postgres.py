"""PostgreSQL 15 from Debian's binaries, a cluster of our own in ``runtime_dir/postgres/``.

Not the system's default cluster: ``initdb`` makes one in ``data/`` (trust
authentication, which initdb limits to the unix socket and loopback), the
server listens on 127.0.0.1 and puts its socket next to the data. PostgreSQL
refuses to run as root, so as root it runs as the ``postgres`` user (set by
``subprocess`` itself, as ``runuser -u postgres`` would, but with no runuser
process between us and the server's pid). ``up`` creates the role and
database of the settings.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from flowsense.services.base import LOOPBACK, Progress, Service, ServiceError, apt_install, run
from flowsense.settings import Settings

BIN = Path("/usr/lib/postgresql/15/bin")
PACKAGE = "postgresql-15"
OS_USER = "postgres"
"""The user the server runs as when we are root."""
SUPERUSER = "postgres"
"""The cluster's bootstrap superuser (``initdb -U``)."""


class Postgres(Service):
    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: ends open sessions instead of waiting for them

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.config = settings.postgres
        self.home = _reachable_home(self.dir)
        """Where the cluster lives: the runtime folder, or, when the OS user PostgreSQL runs
        as cannot pass through it (a checkout in a private folder), one under /var/tmp
        named after it."""
        self.data = self.home / "data"
        self.marker = f"postgres -D {self.data}"

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def ports(self) -> dict[str, int]:
        return {"pg": self.config.port}

    def installed(self) -> bool:
        return (BIN / "postgres").exists() and (BIN / "initdb").exists()

    def install(self) -> None:
        apt_install(PACKAGE)

    def spawn_options(self) -> dict[str, Any]:
        if os.geteuid() != 0:
            return {}
        return {"user": OS_USER, "group": OS_USER, "extra_groups": []}

    def configure(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam(OS_USER)
            except KeyError:
                raise ServiceError(
                    f"postgres: there is no {OS_USER!r} user to run PostgreSQL as "
                    f"(reinstall {PACKAGE})"
                ) from None
            # initdb makes data/ in here, and the server puts its socket here.
            if self.home.stat().st_uid != owner.pw_uid:
                shutil.chown(self.home, owner.pw_uid, owner.pw_gid)
            if blocked := _untraversable(self.home, owner):
                raise ServiceError(
                    f"postgres: the {OS_USER!r} user cannot reach {self.home} ({blocked} is "
                    f"mode {blocked.stat().st_mode & 0o777:o}); set FLOWSENSE_RUNTIME_DIR to a "
                    "folder it can reach, e.g. /var/tmp/flowsense"
                )
        if not (self.data / "PG_VERSION").exists():
            shutil.rmtree(self.data, ignore_errors=True)
            initdb = [str(BIN / "initdb"), "-D", str(self.data), "-U", SUPERUSER]
            run(
                [*initdb, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
                "postgres: initdb",
                cwd=self.home,
                **self.spawn_options(),
            )
            with open(self.data / "postgresql.conf", "a") as f:
                f.write("\ninclude_if_exists = 'flowsense.conf'\n")
        (self.data / "flowsense.conf").write_text(
            "# Written by `flowsense services up` from the settings at every start.\n"
            f"listen_addresses = '{LOOPBACK}'\n"
            f"port = {self.config.port}\n"
            f"unix_socket_directories = '{self.home}'\n"
        )

    def command(self) -> list[str]:
        return [str(BIN / "postgres"), "-D", str(self.data)]

    def _connect(self, **kwargs: Any) -> psycopg.Connection:
        return psycopg.connect(
            host=LOOPBACK,
            port=self.config.port,
            user=SUPERUSER,
            dbname="postgres",
            autocommit=True,
            **kwargs,
        )

    def healthy(self) -> bool:
        try:
            with self._connect(connect_timeout=2) as conn:
                return conn.execute("select 1").fetchone() == (1,)
        except psycopg.Error:
            return False

    def provision(self, progress: Progress) -> dict[str, Any]:
        """The role and database of the settings (``postgres.user``, ``postgres.database``)."""
        user, database, password = self.config.user, self.config.database, self.config.password
        with self._connect(connect_timeout=5) as conn:
            if not conn.execute("select 1 from pg_roles where rolname = %s", (user,)).fetchone():
                create = sql.SQL("create role {} login").format(sql.Identifier(user))
                if password:
                    create += sql.SQL(" password {}").format(sql.Literal(password))
                conn.execute(create)
                progress(f"postgres: created role {user}")
            if not conn.execute(
                "select 1 from pg_database where datname = %s", (database,)
            ).fetchone():
                conn.execute(
                    sql.SQL("create database {} owner {}").format(
                        sql.Identifier(database), sql.Identifier(user)
                    )
                )
                progress(f"postgres: created database {database} (owner {user})")
        return {"role": user, "database": database}


def _reachable_home(folder: Path) -> Path:
    """``folder``, unless PostgreSQL's OS user (when we run as root) cannot pass through a
    folder above it: then a folder of its own under /var/tmp, the same for the same path."""
    if os.geteuid() != 0:
        return folder
    try:
        owner = pwd.getpwnam(OS_USER)
    except KeyError:
        return folder  # configure() says what is missing
    if _untraversable(folder, owner) is None:
        return folder
    tag = hashlib.sha1(str(folder).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"flowsense-postgres-{tag}"


def _untraversable(path: Path, owner: pwd.struct_passwd) -> Path | None:
    """The first existing folder above ``path`` that ``owner`` may not pass through, if any."""
    for parent in path.parents:
        if not parent.exists():
            continue
        st = parent.stat()
        if st.st_uid == owner.pw_uid:
            ok = st.st_mode & 0o100
        elif st.st_gid == owner.pw_gid:
            ok = st.st_mode & 0o010
        else:
            ok = st.st_mode & 0o001
        if not ok:
            return parent
    return None
