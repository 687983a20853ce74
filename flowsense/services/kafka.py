"""Apache Kafka: one combined broker + controller (KRaft, no ZooKeeper) on 127.0.0.1.

The jars come from Maven Central (``kafka.pom.xml``: ``kafka_2.13`` plus a
reload4j logging binding, which the Maven artifacts lack); the storage is
formatted on the first start; ``up`` then creates the topics of
``schemas/topics.py``.
"""

from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from flowsense.services.base import (
    LOOPBACK,
    Progress,
    Service,
    ServiceError,
    maven_libs,
    port_open,
    require,
    run,
)
from flowsense.settings import Settings
from schemas import topics

KAFKA_VERSION = "3.9.2"
HEAP = "-Xmx512m"
HERE = Path(__file__).parent
POM = HERE / "kafka.pom.xml"
LOG4J = HERE / "kafka.log4j.properties"


class Kafka(Service):
    name = "kafka"
    jvm = True

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.config = settings.kafka
        first = self.config.bootstrap.split(",")[0].strip()
        host, _, port = first.rpartition(":")
        if not host or not port.isdigit():
            raise ServiceError(f"kafka: bootstrap {self.config.bootstrap!r} is not HOST:PORT")
        self._host, self._port = host, int(port)
        self.libs = self.downloads / f"kafka-{KAFKA_VERSION}" / "libs"
        self.data = self.dir / "data"
        self.properties = self.dir / "server.properties"
        self.marker = f"kafka.Kafka {self.properties}"

    @property
    def host(self) -> str:
        return self._host

    @property
    def ports(self) -> dict[str, int]:
        return {"broker": self._port, "controller": self.config.controller_port}

    def installed(self) -> bool:
        return (self.libs / ".complete").exists()

    def install(self) -> None:
        maven_libs(POM, self.libs, {"kafka.version": KAFKA_VERSION}, self.downloads)

    def _java(self) -> list[str]:
        return [
            require("java", "openjdk-17-jre-headless"),
            f"-Dlog4j.configuration=file:{LOG4J}",
            "-cp",
            f"{self.libs}/*",
        ]

    def configure(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        broker, controller = self._port, self.config.controller_port
        self.properties.write_text(
            "# Written by `flowsense services up` from the settings at every start.\n"
            "process.roles=broker,controller\n"
            "node.id=1\n"
            f"controller.quorum.voters=1@{LOOPBACK}:{controller}\n"
            f"listeners=PLAINTEXT://{LOOPBACK}:{broker},CONTROLLER://{LOOPBACK}:{controller}\n"
            f"advertised.listeners=PLAINTEXT://{LOOPBACK}:{broker}\n"
            "controller.listener.names=CONTROLLER\n"
            "inter.broker.listener.name=PLAINTEXT\n"
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n"
            f"log.dirs={self.data}\n"
            "num.partitions=1\n"
            # Topics are created by `up` from schemas/topics.py: a misspelt name fails loudly.
            "auto.create.topics.enable=false\n"
            "offsets.topic.replication.factor=1\n"
            "offsets.topic.num.partitions=1\n"
            "transaction.state.log.replication.factor=1\n"
            "transaction.state.log.min.isr=1\n"
            "transaction.state.log.num.partitions=1\n"
            "group.initial.rebalance.delay.ms=0\n"
        )
        if not (self.data / "meta.properties").exists():
            format_storage = ["format", "-t", _cluster_id(), "-c", str(self.properties)]
            run(
                [*self._java(), "kafka.tools.StorageTool", *format_storage],
                "kafka: formatting the storage",
            )

    def command(self) -> list[str]:
        java, *classpath = self._java()
        jvm_options = ["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExitOnOutOfMemoryError"]
        return [java, HEAP, *jvm_options, *classpath, "kafka.Kafka", str(self.properties)]

    def admin(self) -> AdminClient:
        # log_level 0: the health check polls a broker that may not be up yet, and
        # librdkafka would log every refused connection; failures come back as errors.
        return AdminClient({"bootstrap.servers": self.config.bootstrap, "log_level": 0})

    def healthy(self) -> bool:
        # The port first: librdkafka floods the log when it polls a closed port.
        if not port_open(LOOPBACK, self._port):
            return False
        try:
            return bool(self.admin().list_topics(timeout=2).brokers)
        except KafkaException:
            return False

    def provision(self, progress: Progress) -> dict[str, Any]:
        """Create the topics of ``schemas/topics.py``: those keyed by symbol with
        ``kafka.partitions``."""
        admin = self.admin()
        wanted = {t: self.config.partitions if t in topics.BY_SYMBOL else 1 for t in topics.ALL}
        existing = admin.list_topics(timeout=10).topics
        new = [NewTopic(t, n, 1) for t, n in wanted.items() if t not in existing]
        grow = [
            NewPartitions(t, n)
            for t, n in wanted.items()
            if t in existing and len(existing[t].partitions) < n
        ]
        futures = {}
        if new:
            futures |= admin.create_topics(new, operation_timeout=10, request_timeout=15)
        if grow:
            futures |= admin.create_partitions(grow, operation_timeout=10, request_timeout=15)
        for name, future in futures.items():
            try:
                future.result()
            except KafkaException as e:
                if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise ServiceError(f"kafka: topic {name}: {e.args[0].str()}") from None
        partitions = self._wait_partitions(admin, wanted)
        for t in new:
            progress(f"kafka: created topic {t.topic} ({t.num_partitions} partitions)")
        for t, n in wanted.items():
            if partitions.get(t, 0) > n:
                progress(f"kafka: topic {t} keeps its {partitions[t]} partitions (settings: {n})")
        return {"topics": {t: partitions[t] for t in wanted}}

    @staticmethod
    def _wait_partitions(admin: AdminClient, wanted: dict[str, int]) -> dict[str, int]:
        """Partitions per topic, once the metadata shows each topic with at least ``wanted``."""
        deadline = time.monotonic() + 15
        while True:
            metadata = admin.list_topics(timeout=10).topics
            partitions = {t: len(m.partitions) for t, m in metadata.items() if t in wanted}
            if all(partitions.get(t, 0) >= n for t, n in wanted.items()):
                return partitions
            if time.monotonic() > deadline:
                raise ServiceError(f"kafka: topics not in the metadata after 15 s: {partitions}")
            time.sleep(0.1)


def _cluster_id() -> str:
    """A random Kafka cluster id (what ``StorageTool random-uuid`` prints, without a JVM)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text
