"""One pipeline run per content id on the embedded default: concurrent uploads of the same new
bytes, and repeats inside one batch, answer `duplicate` once the first is done. The stack here
is a stand-in (a bus whose drain "indexes" what was published): the claim logic is
EmbeddedCatalog's own."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from PIL import Image

from catalens.embedded.catalog import EmbeddedCatalog
from core.catalog.views import ImageView, ObjectView
from core.handoff import DecodedImages
from core.imaging import encode_jpeg
from core.settings import Settings
from schemas import ImageUploaded
from services.query.ports import IngestResult
from tests.fakes.ports import DictStore


class Stack(SimpleNamespace):
    """What EmbeddedCatalog's ingest touches, with a slow drain (the pipeline's time)."""

    def __init__(self) -> None:
        settings = Settings()
        settings.query.detect_objects = False
        index = SimpleNamespace(indexes=None)
        super().__init__(settings=settings, store=DictStore(), decoded=DecodedImages())
        self.view, self.detector, self.embedder = SimpleNamespace(index=index), None, None
        self.embed_runner = self.detect_runner = None
        self.published: list[ImageUploaded] = []
        self.indexed: set[str] = set()
        self.pg = SimpleNamespace(image_exists=self.image_exists, get_image=self.get_image)
        self.bus = SimpleNamespace(publish=self.publish, drain=self.drain)
        self.aside = SimpleNamespace(images=set)  # nothing set aside

    async def image_exists(self, image_id: str) -> bool:
        await asyncio.sleep(0)
        return image_id in self.indexed

    async def get_image(self, image_id: str) -> ImageView | None:
        if image_id not in self.indexed:
            return None
        whole = ObjectView(f"{image_id}-0", image_id, "image", "image", 1.0, (0, 0, 64, 48))
        return ImageView(image_id, 64, 48, None, (whole,))

    def publish(self, topic: str, message: ImageUploaded) -> None:
        self.published.append(message)

    async def drain(self) -> None:
        await asyncio.sleep(0.05)
        self.indexed |= {m.image_id for m in self.published}


def picture(colour: tuple[int, int, int]) -> bytes:
    return encode_jpeg(Image.new("RGB", (64, 48), colour))


async def test_six_concurrent_uploads_of_the_same_new_bytes_run_the_pipeline_once() -> None:
    stack = Stack()
    catalog = EmbeddedCatalog(stack)  # type: ignore[arg-type]
    data = picture((10, 200, 30))
    results = await asyncio.gather(*(catalog.ingest(f"{n}.jpg", data, None) for n in range(6)))
    assert sorted(r.duplicate for r in results) == [False] + [True] * 5
    assert len({r.image_id for r in results}) == 1 and {r.objects for r in results} == {1}
    assert len(stack.published) == 1
    again = await catalog.ingest("late.jpg", data, None)
    assert again.duplicate and len(stack.published) == 1


async def test_repeats_inside_one_batch_count_once() -> None:
    stack = Stack()
    catalog = EmbeddedCatalog(stack)  # type: ignore[arg-type]
    red, blue = picture((200, 0, 0)), picture((0, 0, 200))
    results = await catalog.ingest_many([("a", red, None), ("b", blue, None), ("c", red, None)])
    assert [r.duplicate for r in results] == [False, False, True]  # type: ignore[union-attr]
    assert len(stack.published) == 2


async def test_a_bad_picture_uploaded_twice_at_once_is_refused_twice() -> None:
    stack = Stack()
    catalog = EmbeddedCatalog(stack)  # type: ignore[arg-type]
    broken = picture((1, 2, 3))[:120]
    results = await catalog.ingest_many([("x", broken, None), ("y", broken, None)])
    assert [type(r).__name__ for r in results] == ["CorruptImage", "CorruptImage"]
    assert stack.published == []


async def test_a_file_name_that_is_not_utf8_or_holds_control_characters_keeps_no_image_out() -> (
    None
):
    stack = Stack()
    catalog = EmbeddedCatalog(stack)  # type: ignore[arg-type]
    names = ["bad\udcff\udcfename.jpg", "tab\tand\x00nul.jpg"]  # bytes a disk may hold
    pictures = [picture((10, 200, 30)), picture((30, 10, 200))]
    results = await catalog.ingest_many(
        [(name, data, "a" * 300) for name, data in zip(names, pictures, strict=True)]
    )
    assert [r.duplicate for r in results if isinstance(r, IngestResult)] == [False, False]
    for message in stack.published:
        assert message.filename and message.filename.isprintable()
        assert message.source == "a" * 255
