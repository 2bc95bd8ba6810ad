"""MinIO, built from source with `go install` (cached), its bucket events going to Kafka.

The notification target `arn:minio:sqs::<notify_id>:kafka` is configured by environment
(MINIO_NOTIFY_KAFKA_*). Without a queue dir (the default, `minio.notify_queue` off) each event is
sent as it happens and an event MinIO cannot send is dropped: `catalens reconcile` re-emits what
the catalog lacks. With `minio.notify_queue` MinIO keeps a queue dir, so events wait out a Kafka
restart, but it sends from that store only every ~3 s (minio/minio#12677). Start Kafka first.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time

from core.settings import Settings
from infra import procs, versions
from infra.probes import http_ok, split_host_port

log = logging.getLogger(__name__)

PACKAGE = "github.com/minio/minio"


class MinioServer:
    name = "minio"

    def __init__(self, settings: Settings) -> None:
        self.cache = settings.infra.cache_dir
        self.binary = self.cache / "minio" / versions.MINIO / "minio"
        self.dir = settings.infra.run_dir / "minio"
        self.settings = settings.minio
        self.brokers = settings.kafka.bootstrap_servers
        self.timeout_s = settings.infra.start_timeout_s
        self.pidfile = self.dir / "pid"
        self.logfile = self.dir / "minio.log"

    @property
    def endpoint(self) -> str:
        return f"http://{self.settings.endpoint}"

    def installed(self) -> bool:
        return self.binary.exists()

    def install(self) -> None:
        if self.installed():
            return
        if shutil.which("go") is None:
            raise procs.InfraError("MinIO is built from source: install Go >= 1.24 (`go`)")
        log.info(
            "minio: building %s@%s with go install (first run only; minutes on 2 cores) ...",
            PACKAGE,
            versions.MINIO,
        )
        start = time.monotonic()
        env = {
            **os.environ,
            "GOPATH": str(self.cache / "go"),
            "GOMODCACHE": str(self.cache / "go" / "pkg" / "mod"),
            "GOCACHE": str(self.cache / "go-build"),
            "GOBIN": str(self.binary.parent),
            "CGO_ENABLED": "0",
            "GOFLAGS": "-buildvcs=false",
        }
        cmd = ["go", "install", "-trimpath", "-ldflags", "-s -w", f"{PACKAGE}@{versions.MINIO}"]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not self.binary.exists():
            raise procs.InfraError(f"go install minio failed:\n{done.stderr[-4000:]}")
        log.info("minio: built %s (%.0f s)", self.binary, time.monotonic() - start)

    def pid(self) -> int | None:
        return procs.live_pid(self.pidfile)

    def healthy(self) -> bool:
        return http_ok(f"{self.endpoint}/minio/health/ready")

    def start(self) -> None:
        self.install()
        host, _ = split_host_port(self.settings.endpoint)
        console = f"{host}:{self.settings.console_port}"
        data = self.dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        cmd = [str(self.binary), "server", str(data), "--address", self.settings.endpoint]
        cmd += ["--console-address", console]
        pid = procs.spawn(cmd, pidfile=self.pidfile, logfile=self.logfile, env=self.environment())
        log.info("minio: started pid %d, waiting for %s", pid, self.endpoint)
        waited = procs.wait_ready(
            "minio",
            self.healthy,
            timeout_s=self.timeout_s,
            pidfile=self.pidfile,
            logfile=self.logfile,
        )
        log.info("minio: ready on %s, console http://%s (%.1f s)", self.endpoint, console, waited)

    def stop(self) -> bool:
        return procs.stop(self.pidfile)

    def environment(self) -> dict[str, str]:
        target = self.settings.notify_id
        env = {
            "MINIO_ROOT_USER": self.settings.access_key,
            "MINIO_ROOT_PASSWORD": self.settings.secret_key.get_secret_value(),
            f"MINIO_NOTIFY_KAFKA_ENABLE_{target}": "on",
            f"MINIO_NOTIFY_KAFKA_BROKERS_{target}": self.brokers,
            f"MINIO_NOTIFY_KAFKA_TOPIC_{target}": self.settings.topic,
            "MINIO_UPDATE": "off",
            "MINIO_CALLHOME_ENABLE": "off",
        }
        if self.settings.notify_queue:
            env[f"MINIO_NOTIFY_KAFKA_QUEUE_DIR_{target}"] = str(self.dir / "events-queue")
        return env
