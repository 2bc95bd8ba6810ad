"""`shared_stack` when a server fails to start: what did start is never left running untracked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.settings import Settings
from infra import procs, shared


def failing_up(settings: Settings, only: object = None, started: list[str] | None = None):
    assert started is not None
    started.append("kafka")  # kafka came up, then minio failed
    raise RuntimeError("minio did not start")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path)
    settings.infra.run_dir = tmp_path / "run"
    (settings.infra.run_dir / "leases").mkdir(parents=True)
    return settings


def test_a_failed_up_stops_what_it_started_when_nobody_else_holds_the_stack(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    stopped: list[list[str]] = []
    monkeypatch.setattr(shared, "up", failing_up)
    monkeypatch.setattr(shared, "down", lambda s, only: stopped.append(list(only)))
    with pytest.raises(RuntimeError, match="minio"), shared.shared_stack(settings):
        pass
    assert stopped == [["kafka"]]
    assert not list((settings.infra.run_dir / "leases").glob("[0-9]*"))  # no lease was taken


def test_a_failed_up_leaves_what_it_started_to_the_last_holder_when_others_use_the_stack(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = settings.infra.run_dir / "leases" / "1"  # a live holder: this very process
    other.write_text(f"{os.getpid()} {procs.start_time(os.getpid())}\n")
    stopped: list[list[str]] = []
    monkeypatch.setattr(shared, "up", failing_up)
    monkeypatch.setattr(shared, "down", lambda s, only: stopped.append(list(only)))
    with pytest.raises(RuntimeError), shared.shared_stack(settings):
        pass
    assert stopped == []
    assert (settings.infra.run_dir / "leases" / "started").read_text().split() == ["kafka"]
