"""`catalens replay`, `catalens reindex` and `catalens index check|status`: the index lifecycle on
the real stack. FAISS is a view of the log: these rebuild it, switch it and audit it.

Settings from the environment like the services (`CATALENS_KAFKA__BOOTSTRAP_SERVERS`,
`CATALENS_MINIO__*` for the snapshot bucket, `CATALENS_POSTGRES__DSN` for `index check`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import typer

from catalens.settings import Settings


@contextmanager
def _progress(what: str) -> Iterator[object]:
    """A rich progress bar (records, rate, ETA) fed as `(done, total)`."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    class RecordsPerSecond(TransferSpeedColumn):
        def render(self, task):  # type: ignore[no-untyped-def]
            speed = task.finished_speed or task.speed
            return f"{speed:,.0f} rec/s" if speed else "— rec/s"

    columns = (
        TextColumn(f"[bold]{what}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
        RecordsPerSecond(), TextColumn("ETA"), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns) as bar:
        task = bar.add_task(what, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=max(total, 1))

        yield update


@asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[object]:
    from catalens.adapters.minio_store import open_minio_store
    from services.indexer.generations import GenerationStore

    store = await open_minio_store(settings.minio, settings.minio.index_bucket)
    yield GenerationStore.from_settings(store, settings)


def replay(
    from_snapshots: bool = typer.Option(
        False,
        "--from-snapshots/--from-zero",
        help="Start from the latest snapshots (only the tail is replayed) or from offset 0.",
    ),
) -> None:
    """Rebuild the serving generation's FAISS shards from the log and write their snapshots
    (each with the offset it reflects). From offset 0 by default: the result depends on the
    log alone, so it repairs any snapshot. Replicas pick the snapshots up when they restart."""
    from services.indexer.index_jobs import build

    settings = Settings()

    async def go() -> None:
        async with _store(settings) as store:
            generation = await store.live()  # type: ignore[attr-defined]
            with _progress(f"replay {generation.topic}") as progress:
                stats = await build(
                    generation, settings.kafka.bootstrap_servers, store,  # type: ignore[arg-type]
                    restore=from_snapshots, progress=progress,  # type: ignore[arg-type]
                )  # fmt: skip
        typer.echo(
            f"{stats.generation}: {stats.records} records, {stats.vectors} vectors in "
            f"{stats.seconds:.1f} s; snapshots at offsets {stats.positions}"
        )

    asyncio.run(go())


def reindex(
    index_type: str = typer.Option(..., "--index-type", help="Flat, HNSW or IVF-SQ8."),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Not yet: a new model needs its own embeddings topic (see docs/operations.md).",
    ),
    drop_after: float = typer.Option(
        30.0, "--drop-after", help="Seconds to keep the old generation after the switch (-1: keep)."
    ),
) -> None:
    """Build a new index generation from the log beside the serving one, switch the `live`
    alias atomically (replicas move over once caught up; queries never stop), then drop the
    old generation's snapshots."""
    from services.indexer.faiss_params import check_index_type
    from services.indexer.index_jobs import reindex as run_reindex

    settings = Settings()
    if model is not None:
        typer.echo("error: --model is not supported yet; see docs/operations.md", err=True)
        raise typer.Exit(2)
    try:
        check_index_type(index_type)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc

    async def go() -> None:
        async with _store(settings) as store:
            with _progress(f"build {index_type}") as progress:
                old, new, stats = await run_reindex(
                    store, settings.kafka.bootstrap_servers, index_type,  # type: ignore[arg-type]
                    drop_after, progress,  # type: ignore[arg-type]
                )  # fmt: skip
        typer.echo(f"alias live: {old.name} → {new.name} ({stats.vectors} vectors)")

    asyncio.run(go())


def check(
    as_json: bool = typer.Option(False, "--json", help="Print the drift report as JSON."),
) -> None:
    """Compare the log, pgvector rows and the FAISS ids a replica would serve (snapshots + tail)
    at one cut of the log; list missing, extra and stale vectors. Exit 1 on any drift. Run it
    when ingest is quiet: rows the indexer has not reached yet count as missing."""
    from services.indexer.index_jobs import check as run_check
    from services.indexer.pg_open import open_pg

    settings = Settings()

    async def go() -> int:
        async with _store(settings) as store, open_pg(settings) as (pg, _server):
            with _progress("read the log") as progress:
                drifts = await run_check(
                    store, settings.kafka.bootstrap_servers, pg,  # type: ignore[arg-type]
                    progress,  # type: ignore[arg-type]
                )  # fmt: skip
        if as_json:
            typer.echo(json.dumps([d.__dict__ for d in drifts], indent=2))
        for d in drifts if not as_json else ():
            state = "no drift" if d.clean else "DRIFT"
            typer.echo(f"{d.index}: log {d.in_log}, faiss {d.in_faiss}, pg {d.in_pg}: {state}")
            for kind in ("missing", "extra", "stale"):
                for where, ids in getattr(d, kind).items():
                    if ids:
                        typer.echo(f"  {kind} in {where}: {len(ids)} e.g. {ids[:3]}")
        return 0 if all(d.clean for d in drifts) else 1

    raise typer.Exit(asyncio.run(go()))


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)
    app.command("reindex")(reindex)
    index = typer.Typer(help="Audit the FAISS index against the log.", no_args_is_help=True)
    index.command("check")(check)
    app.add_typer(index, name="index")
