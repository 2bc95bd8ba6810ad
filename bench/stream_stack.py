"""What bench/stream_pipeline.py builds the pipeline on: the real stack's settings and a Postgres
database for one run, run ids, and a phase's result with its summary."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import numpy as np
from pydantic import SecretStr

from core.settings import Settings, StreamingSettings


@dataclass
class PhaseResult:
    """One phase: `latencies_s` per image (upload call → searchable), wall from the first
    upload call to the last image searchable."""

    name: str
    images: int
    wall_s: float
    latencies_s: list[float]
    objects: int
    stages: list[tuple[str, float, float]] = field(default_factory=list)
    from_event_s: float | None = None  # first record on `images` → last searchable

    @property
    def images_per_s(self) -> float:
        return self.images / self.wall_s

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_s, q))


def stack_settings(data_dir: Path, run_id: str) -> Settings:
    """The real stack's endpoints (from `infra`), groups of this run starting at the log end."""
    settings = Settings(data_dir=data_dir)
    settings.captioner.backend = "offline"
    settings.streaming = StreamingSettings(
        group_prefix=f"bench-stream-{run_id}", auto_offset_reset="latest", metrics_port=0
    )
    return settings


@contextlib.asynccontextmanager
async def run_database(settings: Settings, admin_dsn: str, run_id: str) -> AsyncIterator[str]:
    """A Postgres database of this run on the real stack's server; dropped on exit."""
    database = f"bench_stream_{run_id}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f"CREATE DATABASE {database}")
    base, _, query = admin_dsn.partition("?")
    dsn = base.rsplit("/", 1)[0] + f"/{database}" + (f"?{query}" if query else "")
    settings.postgres.dsn = SecretStr(dsn)
    try:
        yield dsn
    finally:
        await admin.execute(f"DROP DATABASE {database} WITH (FORCE)")
        await admin.close()


def phase_summary(r: PhaseResult) -> str:
    return (
        f"{r.images} images in {r.wall_s:.1f} s = {r.images_per_s:.2f} img/s, "
        f"p50 {r.percentile(50):.2f} s, p95 {r.percentile(95):.2f} s"
    )


def p50_p95(times: list[float]) -> tuple[float, float]:
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def new_run_id() -> str:
    return uuid.uuid4().hex[:8]
