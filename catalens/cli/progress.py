"""A rich progress bar for jobs over Kafka records: count, rate (records/s) and ETA."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def record_progress(what: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar (records, rate, ETA) fed as `(done, total)`."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        Task,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    class RecordsPerSecond(TransferSpeedColumn):
        def render(self, task: Task) -> str:  # type: ignore[override]  # rich returns Text; str renders
            speed = task.finished_speed or task.speed
            return f"{speed:,.0f} rec/s" if speed else "— rec/s"

    columns = (
        TextColumn(f"[bold]{what}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        RecordsPerSecond(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as bar:
        task = bar.add_task(what, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=max(total, 1))

        yield update
