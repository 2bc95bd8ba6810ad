"""A killed embedded Postgres whose zombie nobody reaps (a PID 1 that does not wait) is not taken
for a running server, and its stale lock file does not stop the next start."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.catalog.pg_server import EmbeddedPostgres, process_alive


@pytest.fixture
def zombie() -> Iterator[int]:
    """The pid of a child that has exited but is not reaped yet."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "Z":
            break
        time.sleep(0.05)
    yield child.pid
    child.wait()


def test_a_zombie_is_not_alive_and_a_live_process_is(zombie: int) -> None:
    import os

    assert not process_alive(zombie)
    assert process_alive(os.getpid())


def test_a_lock_file_naming_a_zombie_is_no_running_server_and_is_dropped(
    zombie: int, tmp_path: Path
) -> None:
    server = EmbeddedPostgres(tmp_path)
    server.pgdata.mkdir(parents=True)
    lock = server.pgdata / "postmaster.pid"
    lock.write_text(f"{zombie}\n{server.pgdata}\n1\n54321\n\n127.0.0.1\n  1  2\nready   \n")
    assert server.running_port() is None  # kill(pid, 0) alone would say 54321
    server._drop_stale_lock()
    assert not lock.exists()
