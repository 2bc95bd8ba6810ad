"""Apache Kafka, one broker in KRaft mode, from the jars on Maven Central and the machine's JDK.

Install: a generated pom and `mvn dependency:copy-dependencies` into
`<cache>/kafka/<version>/libs`. Start: format the storage once (a fresh cluster id), then
`java -cp 'libs/*' kafka.Kafka server.properties`. Topics are not auto-created.
"""

from __future__ import annotations

import base64
import logging
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from core.settings import Settings
from infra import procs, versions
from infra.probes import kafka_ready, split_host_port

log = logging.getLogger(__name__)

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>catalens</groupId><artifactId>kafka-libs</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId>
      <version>{slf4j}</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId>
      <version>{reload4j}</version></dependency>
  </dependencies>
  <build><plugins><plugin>
    <groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId>
    <version>{plugin}</version>
  </plugin></plugins></build>
</project>
"""

LOG4J = """log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.controller=WARN
"""


class KafkaServer:
    name = "kafka"

    def __init__(self, settings: Settings) -> None:
        self.home = settings.infra.cache_dir / "kafka" / versions.KAFKA
        self.m2 = settings.infra.cache_dir / "m2"
        self.dir = settings.infra.run_dir / "kafka"
        self.bootstrap = settings.kafka.bootstrap_servers
        self.controller_port = settings.kafka.controller_port
        self.heap = settings.kafka.heap
        self.timeout_s = settings.infra.start_timeout_s
        self.pidfile = self.dir / "pid"
        self.logfile = self.dir / "kafka.log"

    @property
    def endpoint(self) -> str:
        return self.bootstrap

    def installed(self) -> bool:
        return (self.home / ".complete").exists()

    def install(self) -> None:
        if self.installed():
            return
        if shutil.which("mvn") is None or shutil.which("java") is None:
            raise procs.InfraError("Kafka needs `mvn` and a JDK >= 17 (`java`) on PATH")
        log.info("kafka: downloading Kafka %s jars from Maven Central ...", versions.KAFKA)
        start = time.monotonic()
        shutil.rmtree(self.home, ignore_errors=True)
        self.home.mkdir(parents=True)
        pom = POM.format(
            kafka=versions.KAFKA,
            slf4j=versions.SLF4J,
            reload4j=versions.RELOAD4J,
            plugin=versions.MAVEN_DEPENDENCY_PLUGIN,
        )
        (self.home / "pom.xml").write_text(pom)
        cmd = ["mvn", "-q", "-B", "-f", str(self.home / "pom.xml"), f"-Dmaven.repo.local={self.m2}"]
        cmd += ["dependency:copy-dependencies", f"-DoutputDirectory={self.home / 'libs'}"]
        cmd += ["-DincludeScope=runtime"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise procs.InfraError(f"mvn failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        (self.home / "log4j.properties").write_text(LOG4J)
        (self.home / ".complete").touch()
        jars = len(list((self.home / "libs").glob("*.jar")))
        log.info("kafka: %d jars in %s (%.0f s)", jars, self.home, time.monotonic() - start)

    def pid(self) -> int | None:
        return procs.live_pid(self.pidfile)

    def healthy(self) -> bool:
        return kafka_ready(self.bootstrap)

    def start(self) -> None:
        self.install()
        config = self._write_config()
        if not (self.dir / "data" / "meta.properties").exists():
            self._format(config)
        cmd = [*self._java(), "kafka.Kafka", str(config)]
        pid = procs.spawn(cmd, pidfile=self.pidfile, logfile=self.logfile, cwd=self.dir)
        log.info("kafka: started pid %d, waiting for %s", pid, self.bootstrap)
        waited = procs.wait_ready(
            "kafka",
            self.healthy,
            timeout_s=self.timeout_s,
            pidfile=self.pidfile,
            logfile=self.logfile,
        )
        log.info("kafka: ready on %s (%.1f s)", self.bootstrap, waited)

    def stop(self) -> bool:
        return procs.stop(self.pidfile, timeout_s=60)

    # -- helpers --------------------------------------------------------------------------------
    def _java(self) -> list[str]:
        return [
            "java",
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.home / 'log4j.properties'}",
            f"-Dkafka.logs.dir={self.dir / 'logs'}",
            "-cp",
            f"{self.home / 'libs'}/*",
        ]

    def _write_config(self) -> Path:
        host, port = split_host_port(self.bootstrap)
        controller = f"{host}:{self.controller_port}"
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{controller}",
            "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{controller}",
            "advertised.listeners": f"PLAINTEXT://{host}:{port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.dir / "data"),
            "auto.create.topics.enable": "false",
            "num.partitions": "4",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "2",
        }
        self.dir.mkdir(parents=True, exist_ok=True)
        config = self.dir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
        return config

    def _format(self, config: Path) -> None:
        cluster_id = new_cluster_id()
        cmd = [*self._java(), "kafka.tools.StorageTool", "format", "-t", cluster_id]
        cmd += ["-c", str(config), "--ignore-formatted"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise procs.InfraError(f"kafka storage format failed:\n{done.stdout}{done.stderr}")
        log.info("kafka: formatted storage in %s (cluster %s)", self.dir / "data", cluster_id)


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID in URL-safe base64 (22 characters). One in 64 of those
    starts with "-", which the storage tool's argument parser takes for an option ("-t:
    expected one argument"): draw again until it does not."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
