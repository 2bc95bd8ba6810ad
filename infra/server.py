"""What every server of the stack offers to `up`, `down` and `status`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Server(Protocol):
    name: str

    @property
    def endpoint(self) -> str: ...

    def installed(self) -> bool: ...

    def install(self) -> None:
        """Download/build into the cache (outside the clone); a no-op when already there."""

    def pid(self) -> int | None:
        """The pid of the server `up` started, when it is alive."""

    def healthy(self) -> bool: ...

    def start(self) -> None:
        """Start it and wait until it answers; raises InfraError with the log tail if not."""

    def stop(self) -> bool:
        """Stop what `up` started; False when there was nothing of ours running."""


@dataclass(frozen=True)
class ServerStatus:
    name: str
    pid: int | None
    endpoint: str
    healthy: bool
    ours: bool  # started by `catalens infra up` (recorded in the run dir)
