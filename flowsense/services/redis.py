"""Redis from Debian's ``redis-server`` (installed with apt-get if missing), on 127.0.0.1."""

from __future__ import annotations

import shutil
from pathlib import Path

import redis

from flowsense.services.base import LOOPBACK, Service, apt_install
from flowsense.settings import Settings

PACKAGE = "redis-server"


class Redis(Service):
    name = "redis"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.config = settings.redis
        self.conf = self.dir / "redis.conf"
        self.marker = "redis-server"  # its process title: "redis-server 127.0.0.1:6379"

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def ports(self) -> dict[str, int]:
        return {"redis": self.config.port}

    @property
    def executable(self) -> Path:
        return Path(shutil.which("redis-server") or "/usr/bin/redis-server")

    def installed(self) -> bool:
        return self.executable.exists()

    def install(self) -> None:
        apt_install(PACKAGE)

    def configure(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(
            "# Written by `flowsense services up` from the settings at every start.\n"
            f"bind {LOOPBACK}\n"
            f"port {self.config.port}\n"
            f"dir {self.dir}\n"
            "daemonize no\n"
            'logfile ""\n'
            "protected-mode yes\n"
        )

    def command(self) -> list[str]:
        return [str(self.executable), str(self.conf)]

    def healthy(self) -> bool:
        client = redis.Redis(
            host=LOOPBACK, port=self.config.port, socket_connect_timeout=1, socket_timeout=1
        )
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()
