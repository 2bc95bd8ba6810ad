"""HTTP text-search latency at catalog scale: `GET /api/search/text` of the real query app over
loopback HTTP, with the shipped aligned text tower, on a catalog of `--objects` objects.

Run from the repository root: `python -m bench.query_http` (see `--help`; 1M objects by default,
for an otherwise idle machine: about 7 GiB peak RSS, a 4 GB database and 5-7 min of setup,
projected from runs at 100k and 300k). The catalog (`bench.query_http_data`) is
written straight into an embedded Postgres in a temporary folder (COPY) and into the FAISS view
the embedded stack builds (`LogIndex`, one partition, the settings' index type: "Auto" builds
IVF-PQ past 20k vectors, waited for). The query app is the embedded serve path's
(`catalens.embedded.serve.app_for` → `services.query.app.create_app`) under uvicorn on a free
loopback port, over a `SearchCatalog` wired as `EmbeddedCatalog` wires it (its write methods
aside: nothing is ingested). An httpx client in the same process sends one query at a time on a
keep-alive connection: `--warmup` queries, then `--queries` distinct "colour material garment"
queries, first with the search settings' defaults (fusion as `search.fusion` says), then with
`fusion=false`. Each query's time inside the app's functions comes from wrapping them
(`bench.probes`), so the round trip splits into text embedding, FAISS, Postgres and the rest.
Writes the `--section` section of docs/benchmarks.md unless --no-write.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import shlex
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import httpx
import uvicorn

from bench.common import machine, machine_markdown, write_section
from bench.probes import Probe, Stages, probed
from bench.query_data import rss_bytes
from bench.query_http_data import (
    caption_vectors,
    catalog_queries,
    fill_index,
    fulltext_matches,
    load_rows,
    make_catalog,
)
from bench.query_http_report import APP, EMBED, FAISS, FULLTEXT, HYDRATE, Run, render
from bench.query_pg import embedded_store
from bench.query_real import RealGenerator, RealLike
from catalens.embedded.serve import app_for
from core.embedding.factory import build_embedder
from core.imaging import ImageLimits
from core.index.faiss_params import params_from_settings
from core.index.log_index import LogIndex
from core.inference import ModelRunner
from core.settings import QuerySettings, Settings
from core.storage.folder_store import FolderObjectStore
from services.query.ports import IngestResult
from services.query.search import SearchCatalog

SECTION = "Query over HTTP: text search at catalog scale (bench/query_http.py)"
ROUTE = "/api/search/text"
log = logging.getLogger("bench.query_http")

PROBES: list[Probe] = [
    (APP, "services.query.search:SearchCatalog", "search_text"),
    (EMBED, "core.embedding.base:BatchedEmbedder", "embed_texts"),
    (FAISS, "core.index.faiss_shards:ShardedFaissIndex", "search"),
    (HYDRATE, "core.catalog.pg_store:PgStore", "get_objects"),
    (FULLTEXT, "core.catalog.pg_store:PgStore", "search_fulltext"),  # filtered queries
    (FULLTEXT, "core.catalog.pg_store:PgStore", "fulltext_ranked"),  # unfiltered: ids only
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.query_http",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--objects", type=int, default=1_000_000, help="objects in the catalog")
    p.add_argument("--queries", type=int, default=200, help="timed queries per setting")
    p.add_argument(
        "--warmup", type=int, default=20, help="untimed queries before each setting's timed ones"
    )
    p.add_argument("--limit", type=int, default=24, help="hits per page (the API's default)")
    p.add_argument("--products", type=int, default=2000, help="distinct captions in the catalog")
    p.add_argument("--skip-fusion-off", action="store_true", help="only the default settings")
    p.add_argument("--section", default=SECTION, help="docs/benchmarks.md section to write")
    p.add_argument("--no-write", action="store_true", help="print, leave docs alone")
    return p.parse_args(argv)


class ReadOnlyCatalog(SearchCatalog):
    """The `Catalog` port over the read half the embedded and streaming catalogs share; the
    bench never writes, so its writes refuse."""

    async def image_bytes(self, image_id: str) -> bytes | None:
        return None

    async def ingest(self, filename: str, data: bytes, source: str | None) -> IngestResult:
        raise NotImplementedError("the bench catalog is read-only")

    async def delete_image(self, image_id: str) -> bool:
        return False


@dataclass
class Setup:
    """Seconds of each setup step and the process's RSS after it, logged as they finish."""

    steps: list[tuple[str, float, float]] = field(default_factory=list)  # (step, s, RSS GiB)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        log.info("%s ...", name)
        started = time.perf_counter()
        yield
        seconds, rss = time.perf_counter() - started, rss_bytes() / 2**30
        self.steps.append((name, seconds, rss))
        log.info("%s: %.1f s (RSS %.2f GiB, peak %.2f GiB)", name, seconds, rss, peak_rss_gib())


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


@asynccontextmanager
async def serving(catalog: ReadOnlyCatalog, settings: QuerySettings) -> AsyncIterator[str]:
    """The embedded serve path's app under uvicorn on a free loopback port; yields its URL."""
    settings = settings.model_copy(update={"host": "127.0.0.1", "port": 0})
    app = app_for(catalog, settings)
    config = uvicorn.Config(app, host=settings.host, port=0, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def timed_queries(
    client: httpx.AsyncClient,
    run: Run,
    warmup: list[str],
    queries: list[str],
    params: dict[str, str],
    stages: Stages,
) -> None:
    with probed(stages, PROBES):
        for i, text in enumerate(warmup + queries):
            stages.reset()
            started = time.perf_counter()
            answer = await client.get(ROUTE, params={"q": text, **params})
            seconds = time.perf_counter() - started
            if answer.status_code != 200:
                raise RuntimeError(f"{ROUTE}?q={text}: {answer.status_code} {answer.text[:500]}")
            if i >= len(warmup):
                run.add(seconds, stages, len(answer.json()["hits"]))
    log.info("%s: %s", run.name, run.summary())


async def run(args: argparse.Namespace, setup: Setup) -> tuple[list[Run], dict[str, object]]:
    texts = catalog_queries(args.warmup + args.queries)
    warmup, queries = texts[: args.warmup], texts[args.warmup :]
    facts: dict[str, object] = {}
    async with AsyncExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="catalens-bench-http-"))
        settings = Settings(data_dir=Path(tmp))
        faiss.omp_set_num_threads(1)  # as `open_stack` does
        with setup.step("load the shipped embedder (`build_embedder`, default settings)"):
            embedder = build_embedder(settings.embedder, settings.data_dir)
        with setup.step(f"draw {args.objects:,} real-like image vectors"):
            generator = RealGenerator(RealLike())
            images = generator.sample(args.objects, seed=2)
            facts["data"] = generator.spec.describe(len(generator.base))
            del generator
        with setup.step(f"catalog rows: ids, captions of {args.products:,} products"):
            catalog = make_catalog(args.objects, args.products)
        with setup.step("caption vectors (text tower per product + noise)"):
            captions = caption_vectors(catalog, embedder)
        with setup.step("start the embedded Postgres (fsync off)"):
            store = await stack.enter_async_context(embedded_store(settings.postgres.pool_max_size))
        key = embedder.identity.key
        with setup.step("COPY images, objects, captions, vectors into Postgres"):
            table = await load_rows(store, catalog, {"image": images, "caption": captions}, key)
        with setup.step("VACUUM ANALYZE"):
            await store._pool.execute(f"VACUUM ANALYZE images, objects, captions, {table}")
        view = LogIndex(  # the embedded stack's FAISS view, as `open_stack` makes it
            settings.streaming.embedded_topic,
            partitions=1,
            index_type=settings.index.index_type,
            params=params_from_settings(settings.index),
        )
        stack.callback(view.close)
        for modality, vectors in (("image", images), ("caption", captions)):
            with setup.step(f"FAISS {modality} index ({settings.index.index_type}, built)"):
                index = fill_index(view.indexes, key, modality, catalog.object_ids, vectors)
            facts[f"{modality} index"] = index.knobs
        del images, captions
        facts["database"] = await store._pool.fetchval(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        )
        facts["shared_buffers"] = await store._pool.fetchval("SHOW shared_buffers")
        runner = ModelRunner("embedder")
        stack.callback(runner.close)
        search = ReadOnlyCatalog(
            store,
            view.indexes,
            embedder,
            runner,
            FolderObjectStore(settings.data_dir / "objects"),
            ImageLimits(settings.query.max_upload_bytes, settings.query.max_pixels),
            fusion=settings.search.fusion,
        )
        runs = await measure(search, settings, args, warmup, queries)
        depth = settings.search.fusion.fulltext.depth
        facts["fulltext matches"] = await fulltext_matches(store, queries[:20], depth)
    facts["fusion"] = settings.search.fusion
    facts["peak RSS GiB"] = peak_rss_gib()
    return runs, facts


async def measure(
    search: ReadOnlyCatalog,
    settings: Settings,
    args: argparse.Namespace,
    warmup: list[str],
    queries: list[str],
) -> list[Run]:
    """The timed queries of each setting, through one server and one client."""
    fusion = settings.search.fusion
    vector_sources = sum(s.weight > 0 for s in (fusion.image, fusion.caption))
    settings_runs: list[tuple[str, dict[str, str], int]] = [
        ("defaults", {}, vector_sources if fusion.enabled else 1)
    ]
    if not args.skip_fusion_off:
        settings_runs.append(("fusion=false", {"fusion": "false"}, 1))
    runs, stages = [], Stages()
    async with (
        serving(search, settings.query) as url,
        httpx.AsyncClient(base_url=url, timeout=120) as client,
    ):
        for name, params, sources in settings_runs:
            run = Run(name, sources)
            await timed_queries(
                client, run, warmup, queries, params | {"limit": str(args.limit)}, stages
            )
            runs.append(run)
    return runs


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    args = parse_args(argv)
    info, setup = machine(), Setup()
    runs, facts = asyncio.run(run(args, setup))
    argv = argv if argv is not None else sys.argv[1:]
    command = shlex.join(["python", "-m", "bench.query_http", *argv])
    end_load = os.getloadavg()[0]
    body = render(runs, setup.steps, facts, args, machine_markdown(info), command, end_load)
    print(body)
    if not args.no_write:
        print(f"\nwrote {write_section(args.section, body)}")


if __name__ == "__main__":
    main()
