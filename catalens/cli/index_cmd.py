"""`catalens replay`, `catalens reindex` and `catalens index check`: the index lifecycle on
the real stack. FAISS is a view of the log: these rebuild it, switch it and audit it.

Settings from the environment like the services (`CATALENS_KAFKA__BOOTSTRAP_SERVERS`,
`CATALENS_MINIO__*` for the snapshot bucket, `CATALENS_POSTGRES__DSN` for `index check`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import typer

from catalens.cli.progress import record_progress
from core.settings import Settings

if TYPE_CHECKING:
    from core.index.generations import GenerationStore


@asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[GenerationStore]:
    from core.index.generations import open_generation_store

    yield await open_generation_store(settings)


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
    from core.index.index_jobs import build

    settings = Settings()

    async def go() -> None:
        async with _store(settings) as store:
            generation = await store.live()
            with record_progress(f"replay {generation.topic}") as progress:
                stats = await build(
                    generation,
                    settings.kafka.bootstrap_servers,
                    store,
                    restore=from_snapshots,
                    progress=progress,
                )
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
        help="Re-embed with this model (aligned: artifact dir; open_clip: model name; hf_clip: "
        "transformers CLIP folder) into its "
        "own topic objects.embedded.<model key> first, then build from that topic.",
    ),
    backend: str | None = typer.Option(
        None, "--backend", help="Embedder backend of --model (default: the configured one)."
    ),
    drop_after: float = typer.Option(
        30.0, "--drop-after", help="Seconds to keep the old generation after the switch (-1: keep)."
    ),
) -> None:
    """Build a new index generation from the log beside the serving one, switch the `live`
    alias atomically (replicas move over once caught up; queries never stop), then drop the
    old generation's snapshots."""
    from core.index.faiss_params import check_index_type
    from core.index.index_jobs import reindex as run_reindex

    settings = Settings()
    try:
        check_index_type(index_type)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc

    async def go() -> None:
        topic, embedder = (
            await _reembed(settings, model, backend) if model is not None else (None, None)
        )
        async with _store(settings) as store:
            with record_progress(f"build {index_type}") as progress:
                old, new, stats = await run_reindex(
                    store,
                    settings.kafka.bootstrap_servers,
                    index_type,
                    drop_after,
                    progress,
                    topic,
                    embedder,
                )
        typer.echo(
            f"alias {settings.index.alias}: {old.name} → {new.name} ({stats.vectors} vectors)"
        )
        if topic is not None and embedder is not None:
            typer.echo(
                "keep the new model's stream current: "
                f"CATALENS_EMBEDDER__BACKEND={embedder['backend']} "
                f"CATALENS_EMBEDDER__MODEL={model} "
                f"CATALENS_STREAMING__EMBEDDED_TOPIC={topic} catalens run embedder "
                "(and an indexer with the same EMBEDDED_TOPIC for pgvector)"
            )

    asyncio.run(go())


async def _reembed(
    settings: Settings, model: str, backend: str | None
) -> tuple[str, dict[str, str]]:
    """Embed the log's crops and captions with `model` into its own topic; (topic, settings)."""
    from core.embedding.factory import build_embedder
    from core.index.generations import slug
    from core.storage.minio_store import open_minio_store
    from core.streaming.topics import ensure_topics
    from services.embedder.reembed import reembed

    config = settings.embedder.model_copy(
        update={"backend": backend or settings.embedder.backend, "model": model}
    )
    embedder = build_embedder(config, settings.data_dir)
    key = embedder.identity.key
    topic = f"objects.embedded.{slug(key)}"
    streaming = settings.streaming.model_copy(update={"embedded_topic": topic})
    await ensure_topics(settings.kafka.bootstrap_servers, streaming)
    crops = await open_minio_store(settings.minio, settings.minio.crops_bucket)
    with record_progress(f"re-embed with {key}") as progress:
        stats = await reembed(
            settings.kafka.bootstrap_servers,
            embedder,
            crops,
            topic,
            progress=progress,
            vector_frames=settings.streaming.vector_frames,
        )
    typer.echo(
        f"re-embedded {stats.read} events into {topic}: {stats.produced} out, "
        f"{stats.skipped} skipped"
    )
    return topic, {"key": key, "backend": config.backend, "model": str(config.model)}


def check(
    as_json: bool = typer.Option(False, "--json", help="Print the drift report as JSON."),
) -> None:
    """Compare the log, pgvector rows and the FAISS ids a replica would serve (snapshots + tail)
    at one cut of the log; list missing, extra and stale vectors. Exit 1 on any drift. Run it
    when ingest is quiet: rows the indexer has not reached yet count as missing."""
    from core.catalog.pg_open import open_pg
    from core.index.index_jobs import check as run_check

    settings = Settings()

    async def go() -> int:
        async with _store(settings) as store, open_pg(settings) as (pg, _server):
            with record_progress("read the log") as progress:
                drifts = await run_check(
                    store,
                    settings.kafka.bootstrap_servers,
                    pg,
                    progress,
                )
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
