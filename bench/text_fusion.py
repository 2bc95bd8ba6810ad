"""Text → image recall with fused text search off vs on, on the real catalog code path.

Run from the repository root: `python -m bench.text_fusion [--model DIR] [--split eval|tune]
[--sweep]`. The gallery (`bench.text_fusion_data`): held-out catalog products, one whole-image
object each, captioned by the offline captioner and embedded by the aligned model, stored in an
embedded Postgres (captions, attributes, full-text column, pgvector) and a FAISS view; the queries
are the products' names (productDisplayName), each one's match its own product. Every query runs
through `SearchCatalog.search_text` twice: fusion off (image vectors only: the baseline, same
run) and on (`search.fusion` defaults). Rows for each source alone and for pairs of sources come
from the same per-query source lists fused by `services.query.search.fuse_hits`. `--sweep`
(meant for `--split tune`, never the eval split) tries caption/full-text weights and RRF k.
Writes the split's section of docs/text_fusion.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.common import machine_markdown, write_section
from bench.text_fusion_data import Gallery, build_gallery, load_catalog, object_id
from core.catalog.views import SearchFilters, SearchHit
from core.embedding.factory import SHIPPED_ALIGNED
from core.paths import REPO_ROOT, shared_path
from core.settings import FusionSettings, FusionSource
from services.query.search import SearchCatalog, fuse_hits

DOC = REPO_ROOT / "docs" / "text_fusion.md"
KS = (1, 5, 10)
CANDIDATE = Path("/work/train/embedder/cands/nocat_flip_h1024_e40/9ed825ce0ae2")
FINAL = Path("/work/train/embedder/final")
Sources = dict[str, list[SearchHit]]


def default_model() -> Path:
    """The committed default artifact (`core.embedding.factory.SHIPPED_ALIGNED`), else the newest
    trained one under /work/train/embedder/final, else the hold_tune candidate."""
    committed = SHIPPED_ALIGNED
    if (committed / "manifest.json").is_file():
        return committed
    finals = sorted(FINAL.glob("**/manifest.json"), key=lambda p: p.stat().st_mtime)
    return finals[-1].parent if finals else CANDIDATE


def recall(rankings: Sequence[Sequence[str]], wanted: Sequence[str]) -> dict[int, float]:
    """Share of queries whose own item is among the first k of its ranking."""
    ranks = [
        list(r).index(w) if w in r else len(r) + 1 for r, w in zip(rankings, wanted, strict=True)
    ]
    return {k: float(np.mean([rank < k for rank in ranks])) for k in KS}


def ranking(hits: Sequence[SearchHit], k: int = 10) -> list[str]:
    return [h.object.object_id for h in hits[:k]]


def fused_recall(
    sources: list[Sources], wanted: list[str], settings: FusionSettings
) -> dict[int, float]:
    return recall([ranking(fuse_hits(found, settings)) for found in sources], wanted)


def variant(base: FusionSettings, **weights: float) -> FusionSettings:
    update = {
        name: FusionSource(weight=w, depth=getattr(base, name).depth) for name, w in weights.items()
    }
    return base.model_copy(update=update)


def row(name: str, result: dict[int, float], note: str = "") -> str:
    return f"| {name} | " + " | ".join(f"{result[k]:.3f}" for k in KS) + f" | {note} |"


async def measure(gallery: Gallery, catalog: SearchCatalog, sweep: bool) -> list[str]:
    queries = [p.name for p in gallery.products]
    wanted = [object_id(p) for p in gallery.products]
    filters, base = SearchFilters(), catalog.fusion
    off = [ranking(await catalog.search_text(q, filters, 10, 0, fusion=False)) for q in queries]
    on = [ranking(await catalog.search_text(q, filters, 10, 0, fusion=True)) for q in queries]
    vectors = catalog.embedder.embed_texts(queries)
    sources = [
        await catalog.text_sources(q, v, filters) for q, v in zip(queries, vectors, strict=True)
    ]
    weights = ", ".join(f"{n} {s.weight}×/{s.depth} deep" for n, s in base.sources().items())
    weights += f", k {base.rrf_k}"
    rows = [
        row("image vectors only (fusion off: baseline)", recall(off, wanted), "search_text"),
        row(
            "**fused: image + caption + full-text**", recall(on, wanted), f"search_text; {weights}"
        ),
    ]
    for name in ("caption", "fulltext"):
        alone = [ranking(found.get(name, [])) for found in sources]
        rows.append(row(f"{name} alone", recall(alone, wanted), "one source's own order"))
    for name, drop in (("image + caption", "fulltext"), ("image + full-text", "caption")):
        result = fused_recall(sources, wanted, variant(base, **{drop: 0.0}))
        rows.append(row(name, result, "RRF, the other weights as above"))
    if sweep:
        rows += sweep_rows(sources, wanted, base)
    return rows


def sweep_rows(sources: list[Sources], wanted: list[str], base: FusionSettings) -> list[str]:
    grid = itertools.product((0.05, 0.1, 0.2, 0.3, 0.5), (0.05, 0.1, 0.2, 0.3, 0.5), (1, 3, 10, 60))
    results = []
    for caption, fulltext, k in grid:
        settings = variant(base, caption=caption, fulltext=fulltext).model_copy(update={"rrf_k": k})
        result = fused_recall(sources, wanted, settings)
        results.append((result[10], result[1], caption, fulltext, k, result))
    results.sort(reverse=True, key=lambda r: r[:2])
    return [
        row(f"sweep: caption {c}, full-text {f}, k {k}", result, "image 1.0")
        for _, _, c, f, k, result in results[:10]
    ]


async def run(model: Path, split: str, sweep: bool) -> list[str]:
    from core.catalog.pg_server import EmbeddedPostgres
    from core.catalog.pg_store import PgStore
    from core.embedding.factory import build_embedder
    from core.imaging import ImageLimits
    from core.index.indexes import IndexRegistry
    from core.inference import ModelRunner
    from core.settings import EmbedderSettings
    from core.storage.folder_store import FolderObjectStore

    data = shared_path("datasets", "fashion-products")
    if data is None:
        raise SystemExit("needs ../shared/datasets/fashion-products (see DATA.md)")
    embedder = build_embedder(EmbedderSettings(backend="aligned", model=str(model)))
    gallery = build_gallery(data, split, embedder)
    root = Path(tempfile.mkdtemp(prefix="catalens-bench-fusion-"))
    server = EmbeddedPostgres(root / "postgres", durable=False)
    runner = ModelRunner("bench-embedder")
    try:
        pg = await PgStore.connect(server.start(), max_size=4)
        indexes = IndexRegistry(n_shards=1)
        await load_catalog(gallery, pg, indexes, embedder.identity.key)
        limits = ImageLimits(max_bytes=1 << 20, max_pixels=1 << 22)
        store = FolderObjectStore(root / "crops")
        catalog = SearchCatalog(
            pg, indexes, embedder, runner, store, limits, fusion=FusionSettings()
        )
        rows = await measure(gallery, catalog, sweep)
        await pg.close()
        return rows
    finally:
        runner.close()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="aligned artifact folder")
    parser.add_argument("--split", choices=("eval", "tune"), default="eval")
    parser.add_argument("--sweep", action="store_true", help="try weights (use --split tune)")
    args = parser.parse_args(argv)
    model = args.model or default_model()
    context = machine_markdown()
    rows = asyncio.run(run(model, args.split, args.sweep))
    command = "python -m bench.text_fusion " + " ".join(sys.argv[1:] if argv is None else argv)
    body = "\n".join(
        [
            f"Command: `{command.strip()}`; model `{model}`.",
            context,
            "",
            "| ranking | R@1 | R@5 | R@10 | note |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    print(body)
    title = f"Results: {args.split} split, model {model.name}" + (" (sweep)" if args.sweep else "")
    print(f"wrote {write_section(title, body, DOC)}")


if __name__ == "__main__":
    main()
