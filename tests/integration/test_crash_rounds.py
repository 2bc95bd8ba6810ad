"""Crash rounds on the embedded default: `catalens demo <photos> --no-serve` is killed with SIGKILL
at random moments (the app, its embedded Postgres, or both: see `crash_kit`) and started again,
round after round, a new photo joining the folder each round; a last, uninterrupted run (in
this process, so its FAISS view can be read) must leave every accepted image with its objects,
captions, attributes, image and caption vectors, the FAISS view holding exactly the pgvector
ids, and nothing stored twice.

Real detector (the shipped fashion preset), the committed aligned embedder, the offline
captioner; no model is trained. `CATALENS_CRASH_ROUNDS` (default 10) and `CATALENS_CRASH_SEED`
(default: drawn, and printed with every round) replay a run."""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from catalens.embedded.catalog import embedded_catalog
from core.catalog.pg_server import EmbeddedPostgres
from core.errors import ImageError
from core.paths import shared_path
from core.settings import Settings
from schemas import image_id_from_bytes
from tests.integration.crash_kit import crash_round, draw_round

PRODUCTS = shared_path("datasets", "fashion-products", "images")
STREET = shared_path("datasets", "fashion-detection", "images", "val")
if PRODUCTS is None or STREET is None:
    pytest.skip(
        "needs ../shared/datasets (fashion-products, fashion-detection)", allow_module_level=True
    )

ROUNDS = int(os.environ.get("CATALENS_CRASH_ROUNDS", "10"))
SEED = int(os.environ.get("CATALENS_CRASH_SEED", str(random.SystemRandom().randrange(10**6))))
# a round is a whole start of the app (imports, models): 20-50 s on 2 busy cores
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300 + 90 * ROUNDS)]


def photos(folder: Path, rounds: int) -> list[list[Path]]:
    """Eight product photos and four street photos (many objects), one of them twice under
    another name (same content), and a file that is not an image (rejected, never stored);
    returns two product photos and a street photo for each round to add: new work to crash."""
    folder.mkdir()
    products = sorted(PRODUCTS.glob("*.jpg"))[: 8 + 2 * rounds]  # type: ignore[union-attr]
    street = sorted(STREET.glob("*.jpg"))[: 4 + rounds]  # type: ignore[union-attr]
    for path in products[:8] + street[:4]:
        shutil.copy(path, folder)
    shutil.copy(products[0], folder / "copy-of-the-first.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    return [[*products[8 + 2 * n : 10 + 2 * n], street[4 + n]] for n in range(rounds)]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data dir outside pytest's tmp_path (another pytest session resets that to 0700, which
    would lock the server's user out); its Postgres is stopped afterwards, killed or not."""
    root = Path(tempfile.mkdtemp(prefix="catalens-crash-"))
    try:
        yield root / "data"
    finally:
        if (root / "data" / "postgres" / "password").exists():
            EmbeddedPostgres(root / "data" / "postgres").stop()
        shutil.rmtree(root, ignore_errors=True)


COMPLETENESS = """SELECT i.image_id,
    count(o.object_id) AS objects,
    count(o.object_id) FILTER (WHERE o.kind = 'image') AS whole,
    count(o.object_id) FILTER (WHERE c.caption IS NULL OR c.caption = '') AS no_caption,
    count(o.object_id) FILTER (WHERE c.attributes IS NULL OR c.attributes = '{{}}'::jsonb)
        AS no_attributes,
    count(o.object_id) FILTER (WHERE NOT EXISTS (SELECT 1 FROM {t} v
        WHERE v.object_id = o.object_id AND v.modality = 'image')) AS no_image_vector,
    count(o.object_id) FILTER (WHERE NOT EXISTS (SELECT 1 FROM {t} v
        WHERE v.object_id = o.object_id AND v.modality = 'caption')) AS no_caption_vector
    FROM images i LEFT JOIN objects o USING (image_id) LEFT JOIN captions c USING (object_id)
    GROUP BY i.image_id"""
SAME_CONTENT = """SELECT image_id, kind, label, box, count(*) FROM objects
    GROUP BY image_id, kind, label, box HAVING count(*) > 1"""
LEFTOVERS = """SELECT (SELECT count(*) FROM captions c WHERE NOT EXISTS
        (SELECT 1 FROM objects o WHERE o.object_id = c.object_id)) AS captions,
    (SELECT count(*) FROM {t} v WHERE NOT EXISTS
        (SELECT 1 FROM objects o WHERE o.object_id = v.object_id)) AS vectors"""


@dataclass
class Stored:
    images: dict[str, dict[str, int]]  # image id -> its object count and what its objects lack
    same_content: list[asyncpg.Record]  # objects stored twice (same image, kind, label, box)
    leftovers: dict[str, int]  # captions and vectors of no object
    vectors: dict[str, set[str]]  # modality -> object ids in pgvector
    vector_rows: int


async def stored(dsn: str, model_key: str) -> Stored:
    conn = await asyncpg.connect(dsn)
    try:
        table = await conn.fetchval(
            "SELECT table_name FROM vector_models WHERE model_key = $1", model_key
        )
        assert table is not None, f"not one vector of {model_key} was stored"
        of = f"SELECT object_id FROM {table} WHERE modality = $1"
        return Stored(
            images={r["image_id"]: dict(r) for r in await conn.fetch(COMPLETENESS.format(t=table))},
            same_content=list(await conn.fetch(SAME_CONTENT)),
            leftovers=dict(await conn.fetchrow(LEFTOVERS.format(t=table))),
            vectors={
                m: {r["object_id"] for r in await conn.fetch(of, m)} for m in ("image", "caption")
            },
            vector_rows=await conn.fetchval(f"SELECT count(*) FROM {table}"),
        )
    finally:
        await conn.close()


def demo_settings(data_dir: Path, aligned_model_dir: Path) -> Settings:
    """What `catalens demo` runs with: the fashion preset, the committed aligned embedder."""
    settings = Settings(data_dir=data_dir)
    settings.detector = settings.detector.with_preset("fashion")
    settings.embedder.model = str(aligned_model_dir)
    settings.captioner.backend = "offline"
    return settings


async def test_after_random_kills_of_the_app_and_its_postgres_each_image_is_complete_once(
    tmp_path: Path, data_dir: Path, aligned_model_dir: Path
) -> None:
    folder = tmp_path / "photos"
    more = photos(folder, ROUNDS)
    logs = tmp_path / "logs"
    logs.mkdir()
    rng = random.Random(SEED)
    rounds = [draw_round(rng, n) for n in range(1, ROUNDS + 1)]
    for plan in rounds:
        for path in more[plan.number - 1]:
            shutil.copy(path, folder)
        await crash_round(plan, folder, data_dir, logs)
        print(f"seed {SEED}: {plan}")
    story = f"seed {SEED}:\n" + "\n".join(map(str, rounds))

    async with embedded_catalog(demo_settings(data_dir, aligned_model_dir)) as catalog:
        files = sorted(folder.iterdir())
        items = [(p.name, p.read_bytes(), folder.name) for p in files]
        results = await catalog.ingest_many(items)
        accepted = {r.image_id for r in results if not isinstance(r, ImageError)}
        rejected = [
            f.name for f, r in zip(files, results, strict=True) if isinstance(r, ImageError)
        ]
        assert rejected == ["broken.jpg"], story
        for name, data, _ in items:
            if name != "broken.jpg":
                assert await catalog.image_bytes(image_id_from_bytes(data)) == data, story
        server = catalog.stack.pg_server
        port = server.running_port() if server else None
        assert server is not None and port is not None
        now = await stored(server.dsn(port), catalog.model_key)

        assert set(now.images) == accepted, story  # none left out, none that was not accepted
        for image_id, row in now.images.items():
            assert row["objects"] >= 1 and row["whole"] == 1, (image_id, row, story)
            missing = {k: v for k, v in row.items() if k.startswith("no_") and v}
            assert not missing, (image_id, missing, story)
        assert not now.same_content and now.leftovers == {"captions": 0, "vectors": 0}, story
        objects = sum(row["objects"] for row in now.images.values())
        assert len(now.vectors["image"]) == len(now.vectors["caption"]) == objects, story
        assert now.vector_rows == 2 * objects, story  # one vector per object and modality
        for modality, ids in now.vectors.items():
            index = catalog.indexes.get(catalog.model_key, modality)
            assert index is not None and index.ids() == ids, (modality, story)  # FAISS == pgvector
            entries = sum(shard.index.ntotal for shard in index.shards)
            assert len(index) == entries == len(ids), (modality, story)  # no id twice in FAISS
