"""Share one running stack between test sessions (or any processes) on the same machine.

`shared_stack(settings)` runs `up`, records which servers it started, and takes a lease (a file
with its pid and start time). On exit it drops the lease; the last holder out stops every server
that any holder started, so a session never stops servers another one is still using, and a
server `catalens infra up` started by hand is never stopped. Leases of dead processes do not
count, so a killed session does not pin the stack forever.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.file_lock import folder_lock
from core.settings import Settings
from infra import procs
from infra.stack import SERVICES, Endpoints, down, endpoints, up

log = logging.getLogger(__name__)


@contextmanager
def shared_stack(settings: Settings, *, keep: bool = False) -> Iterator[Endpoints]:
    """The whole stack for the duration; `keep` leaves what was started running at the end."""
    root = settings.infra.run_dir / "leases"
    lease = root / str(os.getpid())
    with folder_lock(root):
        started: list[str] = []
        try:
            up(settings, started=started)
        except BaseException:
            if started and not holders(settings):  # nobody uses what we started: stop it
                down(settings, only=started)
            else:
                _record_started(root, started)  # the last holder out stops it
            raise
        _record_started(root, started)
        lease.write_text(f"{os.getpid()} {procs.start_time(os.getpid())}\n")
    try:
        yield endpoints(settings)
    finally:
        with folder_lock(root):
            lease.unlink(missing_ok=True)
            others = holders(settings)
            to_stop = _recorded(root)
            if others:
                log.info("shared stack: %d other holder(s); leaving it running", len(others))
            elif keep:
                log.info("shared stack: kept running (%s)", ", ".join(to_stop) or "nothing ours")
            elif to_stop:
                down(settings, only=to_stop)
                (root / "started").unlink(missing_ok=True)


def holders(settings: Settings) -> list[int]:
    """Pids of the live processes holding the shared stack now."""
    root = settings.infra.run_dir / "leases"
    pids = [procs.live_pid(path) for path in root.glob("[0-9]*")]
    return sorted(pid for pid in pids if pid is not None)


def _recorded(root: Path) -> list[str]:
    try:
        names = set((root / "started").read_text().split())
    except FileNotFoundError:
        return []
    return [name for name in SERVICES if name in names]


def _record_started(root: Path, started: list[str]) -> None:
    names = sorted({*_recorded(root), *started})
    (root / "started").write_text("\n".join(names) + "\n")
