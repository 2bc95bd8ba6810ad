"""`kill <pid>` (SIGTERM) of a running `catalens demo --no-serve` stops its embedded Postgres
too: the signal unwinds the stack's cleanup instead of ending the process where it stands."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from core.catalog.pg_server import EmbeddedPostgres
from core.paths import REPO_ROOT, shared_path
from tests.integration.crash_kit import DEMO

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]
PRODUCTS = shared_path("datasets", "fashion-products", "images")
if PRODUCTS is None:
    pytest.skip("needs ../shared/datasets/fashion-products", allow_module_level=True)


def test_sigterm_during_a_no_serve_ingest_stops_the_embedded_postgres(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for photo in sorted(PRODUCTS.glob("*.jpg"))[:200]:  # more than it ingests before the kill
        shutil.copy(photo, folder)
    data_dir = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "CATALENS_CAPTIONER__BACKEND": "offline"}
    app = subprocess.Popen(
        [*DEMO, str(folder), "--no-serve", "--data-dir", str(data_dir)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = EmbeddedPostgres(data_dir / "postgres")
    try:
        deadline = time.monotonic() + 180
        while server.running_port() is None and app.poll() is None:
            assert time.monotonic() < deadline, "the demo's Postgres never started"
            time.sleep(0.2)
        time.sleep(3)  # into the ingest
        assert app.poll() is None, "the demo ended before the signal"
        app.send_signal(signal.SIGTERM)
        code = app.wait(60)
        assert code != 0  # interrupted, not finished
        assert server.running_port() is None, "SIGTERM left the embedded Postgres running"
    finally:
        if app.poll() is None:
            app.kill()
        if server.running_port() is not None:  # never leave a server behind, whatever failed
            pid = int((server.pgdata / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
