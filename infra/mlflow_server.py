"""MLflow tracking server: SQLite backend and an artifact folder in the run dir."""

from __future__ import annotations

import importlib.util
import logging
import sys
from urllib.parse import urlsplit

from core.settings import Settings
from infra import procs
from infra.probes import http_ok

log = logging.getLogger(__name__)


class MlflowServer:
    name = "mlflow"

    def __init__(self, settings: Settings) -> None:
        self.uri = settings.mlflow.tracking_uri.rstrip("/")
        self.dir = settings.infra.run_dir / "mlflow"
        self.timeout_s = settings.infra.start_timeout_s
        self.pidfile = self.dir / "pid"
        self.logfile = self.dir / "mlflow.log"

    @property
    def endpoint(self) -> str:
        return self.uri

    def installed(self) -> bool:
        return importlib.util.find_spec("mlflow") is not None

    def install(self) -> None:
        if not self.installed():
            raise procs.InfraError("mlflow is not installed: pip install 'catalens[mlops]'")

    def pid(self) -> int | None:
        return procs.live_pid(self.pidfile)

    def healthy(self) -> bool:
        return http_ok(f"{self.uri}/health")

    def start(self) -> None:
        self.install()
        url = urlsplit(self.uri)
        self.dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "mlflow", "server", "--host", url.hostname or "127.0.0.1"]
        cmd += ["--port", str(url.port or 5000), "--workers", "1"]
        cmd += ["--backend-store-uri", f"sqlite:///{self.dir / 'mlflow.db'}"]
        cmd += ["--artifacts-destination", str(self.dir / "artifacts")]
        # no server-side job runner (GenAI scorers etc.): one process less to start on 2 cores
        env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        pid = procs.spawn(cmd, pidfile=self.pidfile, logfile=self.logfile, cwd=self.dir, env=env)
        log.info("mlflow: started pid %d, waiting for %s/health", pid, self.uri)
        waited = procs.wait_ready(
            "mlflow",
            self.healthy,
            timeout_s=self.timeout_s,
            pidfile=self.pidfile,
            logfile=self.logfile,
        )
        log.info("mlflow: ready on %s (%.1f s)", self.uri, waited)

    def stop(self) -> bool:
        return procs.stop(self.pidfile)
