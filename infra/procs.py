"""Background servers we start: detached, logged to a file, remembered by a pid file.

A pid file holds `<pid> <start time>`; the start time (from /proc) guards against a recycled
pid, so `down` never signals a process that `up` did not start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from core.errors import CatalensError

log = logging.getLogger(__name__)


class InfraError(CatalensError):
    reason = "infra_failed"


def start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22: starttime, in clock ticks


def live_pid(pidfile: Path) -> int | None:
    """The pid recorded in `pidfile` when that very process is still alive, else None."""
    try:
        pid_text, started = pidfile.read_text().split()
        pid = int(pid_text)
    except (FileNotFoundError, ValueError):
        return None
    return pid if start_time(pid) == started else None


def spawn(
    cmd: Sequence[str],
    *,
    pidfile: Path,
    logfile: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start `cmd` in its own session (it outlives us), output appended to `logfile`."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("ab") as out:
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
    pidfile.write_text(f"{proc.pid} {start_time(proc.pid)}\n")
    return proc.pid


def stop(pidfile: Path, *, timeout_s: float = 30.0) -> bool:
    """SIGTERM the process group `spawn` made, SIGKILL after `timeout_s`. False: nothing to stop."""
    pid = live_pid(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return False
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        log.warning("pid %d ignored SIGTERM for %.0f s: SIGKILL", pid, timeout_s)
        os.killpg(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)
    return True


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it when it is our child
    state = Path(f"/proc/{pid}/stat")
    try:
        return state.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_ready(
    name: str,
    ready: Callable[[], bool],
    *,
    timeout_s: float,
    pidfile: Path | None = None,
    logfile: Path | None = None,
) -> float:
    """Poll `ready` until true; fail early when the process died. Returns seconds waited."""
    start = time.monotonic()
    while True:
        if ready():
            return time.monotonic() - start
        died = pidfile is not None and live_pid(pidfile) is None
        if died or time.monotonic() - start > timeout_s:
            what = "exited" if died else f"not ready after {timeout_s:.0f} s"
            raise InfraError(f"{name} {what}; log tail:\n{tail(logfile)}")
        time.sleep(0.5)


def tail(logfile: Path | None, chars: int = 3000) -> str:
    if logfile is None or not logfile.exists():
        return "(no log)"
    with logfile.open("rb") as f:
        f.seek(max(0, logfile.stat().st_size - chars))
        return f.read().decode(errors="replace")
