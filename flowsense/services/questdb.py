"""QuestDB from its Maven Central jar: HTTP (REST + ILP over HTTP), PGWire and ILP/TCP.

The server's root is ``runtime_dir/questdb/`` (``conf/``, ``db/``); its
``server.conf`` is written from the settings at every start. QuestDB refuses
unknown keys, so only keys it knows go in.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

from flowsense.services.base import LOOPBACK, Service, maven_libs, require
from flowsense.settings import Settings

QUESTDB_VERSION = "9.3.4"
HEAP = "-Xmx1g"
POM = Path(__file__).parent / "questdb.pom.xml"

LOG_CONF = """\
# Written by `flowsense services up`: everything to stdout, i.e. runtime/questdb/questdb.log.
writers=stdout
w.stdout.class=io.questdb.log.LogConsoleWriter
w.stdout.level=INFO,ERROR,CRITICAL,ADVISORY
"""


class QuestDB(Service):
    name = "questdb"
    jvm = True

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.config = settings.questdb
        self.libs = self.downloads / f"questdb-{QUESTDB_VERSION}" / "libs"
        self.marker = f"io.questdb.ServerMain -d {self.dir}"

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def ports(self) -> dict[str, int]:
        c = self.config
        return {"http": c.http_port, "pg": c.pg_port, "ilp_tcp": c.ilp_tcp_port}

    def installed(self) -> bool:
        return (self.libs / ".complete").exists()

    def install(self) -> None:
        maven_libs(POM, self.libs, {"questdb.version": QUESTDB_VERSION}, self.downloads)

    def configure(self) -> None:
        c = self.config
        conf = self.dir / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "server.conf").write_text(
            "# Written by `flowsense services up` from the settings at every start.\n"
            f"http.net.bind.to={LOOPBACK}:{c.http_port}\n"
            "http.min.enabled=false\n"
            f"pg.net.bind.to={LOOPBACK}:{c.pg_port}\n"
            f"pg.user={c.user}\n"
            f"pg.password={c.password}\n"
            f"line.tcp.net.bind.to={LOOPBACK}:{c.ilp_tcp_port}\n"
            "line.udp.enabled=false\n"
            "line.http.enabled=true\n"
            # Fitted to 2 cores: one thread per pool.
            "shared.network.worker.count=1\n"
            "shared.query.worker.count=1\n"
            "shared.write.worker.count=1\n"
            "wal.apply.worker.count=1\n"
            "mat.view.refresh.worker.count=1\n"
            "view.compiler.worker.count=1\n"
            "telemetry.enabled=false\n"
        )
        (conf / "log.conf").write_text(LOG_CONF)

    def command(self) -> list[str]:
        return [
            require("java", "openjdk-17-jre-headless"),
            HEAP,
            "-XX:+ExitOnOutOfMemoryError",
            "-cp",
            f"{self.libs}/*",
            "io.questdb.ServerMain",
            "-d",
            str(self.dir),
        ]

    def healthy(self) -> bool:
        url = f"http://{LOOPBACK}:{self.config.http_port}/exec?query=select%201"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200 and b"dataset" in response.read()
        except OSError:
            return False
