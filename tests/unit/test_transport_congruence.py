"""Both transports are one pipeline: the routes every service declares (`services/*/routes.py`)
run on the in-process bus and on the Kafka runner (FastStream's `TestKafkaBroker`; the real
broker in `tests/integration/test_transport_congruence_real.py`), and the same inputs — good
images, a corrupt one, a poison message inside a batch, a message of a type the topic does not
take, a delete — give the same messages downstream, the same dead letters and the same FAISS
view (the indexer's `LogIndex`). Fakes stand in for the models only."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from PIL import Image

from core.bus import InProcessBus
from core.index.log_index import LogIndex
from core.inference import ModelRunner
from core.routes import Outcome, Route
from core.settings import Settings
from core.streaming.metrics import ServiceMetrics
from core.streaming.route import RouteRunner
from schemas import (
    IMAGES,
    OBJECTS_CAPTIONED,
    OBJECTS_DETECTED,
    Envelope,
    ImageDeleted,
    ImageUploaded,
    ObjectsCaptioned,
    decode,
    dlq,
    encode,
    image_id_from_bytes,
)
from services.captioner import routes as captioner_routes
from services.captioner.handler import CaptionerPorts
from services.detector import routes as detector_routes
from services.detector.handler import DetectorPorts
from services.embedder import routes as embedder_routes
from services.embedder.handler import EmbedderPorts
from services.indexer import routes as indexer_routes
from services.indexer.handler import LogView
from tests.fakes.ports import DictStore, LabelCaptioner, MeanColourEmbedder, OneBoxDetector

POISON_WIDTH = 123  # the detector raises on an image this wide: a bug one message triggers


class PoisonableDetector(OneBoxDetector):
    def detect(self, images: Sequence[Image.Image]) -> list[Any]:
        if any(image.width == POISON_WIDTH for image in images):
            raise ValueError("a bug this image triggers")
        return super().detect(images)


@dataclass
class Run:
    """What one transport did: messages by topic, dead letters, the FAISS view."""

    published: list[tuple[str, str, str]] = field(default_factory=list)
    dead: list[tuple[str, str, str]] = field(default_factory=list)
    view: LogIndex | None = None

    def summary(self) -> tuple[list[Any], list[Any], dict[str, dict[str, list[float]]]]:
        assert self.view is not None
        live = {
            name: {oid: np.round(v, 5).tolist() for oid, v in vectors.items()}
            for name, vectors in self.view.live().items()
        }
        return sorted(self.published), sorted(self.dead), live


def _jpeg(colour: str, size: tuple[int, int] = (200, 160), salt: int = 0) -> bytes:
    """A plain picture; `salt` sets one corner pixel, so each run's images have ids of their own."""
    image = Image.new("RGB", size, colour)
    image.putpixel((0, 0), (salt % 256, salt // 256 % 256, 0))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


def _uploaded(settings: Settings, key: str, data: bytes) -> ImageUploaded:
    return ImageUploaded(
        producer="test",
        image_id=image_id_from_bytes(data),
        bucket=settings.minio.bucket,
        key=key,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


def inputs(
    settings: Settings, store: DictStore, salt: int = 0
) -> tuple[list[Envelope], list[Envelope]]:
    """(first wave, second wave): uploads and poison first, the delete once they settled."""
    files = {
        "red.jpg": _jpeg("red", salt=salt),
        "blue.jpg": _jpeg("blue", salt=salt),
        "corrupt.jpg": b"\xff\xd8\xff\xe0 not really a JPEG" + str(salt).encode(),
        "poison.jpg": _jpeg("green", (POISON_WIDTH, 90), salt=salt),
        "navy.jpg": _jpeg("navy", salt=salt),
    }
    for key, data in files.items():
        store.items[key] = data
    uploads = [_uploaded(settings, key, data) for key, data in files.items()]
    wrong_type = ObjectsCaptioned.model_validate(_a_caption(uploads[0].image_id))
    first: list[Envelope] = [*uploads[:3], wrong_type, *uploads[3:]]
    delete = ImageDeleted(
        producer="test", image_id=uploads[0].image_id, bucket=settings.minio.bucket, key="red.jpg"
    )
    return first, [delete]


def _a_caption(image_id: str) -> dict[str, Any]:
    return {
        "producer": "test",
        "image_id": image_id,
        "object_id": image_id,
        "caption": "a caption where an image event belongs",
        "attributes": {"category": "bag"},
        "captioner": "test",
    }


def service_routes(
    settings: Settings, store: DictStore, view: LogView
) -> list[tuple[str, Route[Any]]]:
    """(service, route): each service's own routes, as its `routes.py` declares them."""
    runner = ModelRunner("congruence")
    detector = DetectorPorts(
        store, store, PoisonableDetector(), runner, settings.detector.crop.model_copy()
    )
    embedder = EmbedderPorts(store, MeanColourEmbedder(), runner, settings.streaming.embedded_topic)
    captioner = CaptionerPorts(store, LabelCaptioner())
    return [
        *((detector_routes.NAME, r) for r in detector_routes.routes(settings, detector)),
        *((embedder_routes.NAME, r) for r in embedder_routes.routes(settings, embedder)),
        *((captioner_routes.NAME, r) for r in captioner_routes.routes(settings, captioner)),
        (indexer_routes.NAME, indexer_routes.view_route(settings, view)),
    ]


def recorder(topic: str, run: Run, label: str | None = None) -> Route[Run]:
    """Records what reaches `topic`, under `label` (the topic's name unless given)."""

    async def record(messages: Sequence[Any], sink: Run) -> Outcome:
        for m in messages:  # vectors one by one: how a batch groups them is the transport's
            sink.published.extend((label or topic, m.type, name) for name in _identities(m))
        return Outcome()

    return Route(f"record-{topic}", topic, record, run)


def congruence_settings() -> Settings:
    settings = Settings()
    settings.detector.crop.min_size = 10
    return settings


RECORDED = (OBJECTS_DETECTED, OBJECTS_CAPTIONED)


async def run_in_process(salt: int = 0) -> Run:
    settings, store, run = congruence_settings(), DictStore(), Run()
    view = LogView(LogIndex(settings.streaming.embedded_topic, partitions=1))
    bus = InProcessBus()
    for _, route in service_routes(settings, store, view):
        bus.subscribe(route)
    for topic in (*RECORDED, settings.streaming.embedded_topic):
        bus.subscribe(recorder(topic, run))
    for wave in inputs(settings, store, salt):
        for message in wave:
            bus.publish(IMAGES, message)
        await bus.drain()
    for topic, letters in bus.dead_letters.items():
        run.dead.extend((topic, d.reason, image_of(d.message)) for d in letters)
    run.view = view.index
    return run


async def run_on_kafka(salt: int = 0) -> Run:
    settings, store, run = congruence_settings(), DictStore(), Run()
    view = LogView(LogIndex(settings.streaming.embedded_topic, partitions=1))
    broker, metrics = KafkaBroker(), ServiceMetrics("congruence")
    routes = service_routes(settings, store, view)
    routes += [("test", recorder(t, run)) for t in (*RECORDED, settings.streaming.embedded_topic)]
    for service, route in routes:
        RouteRunner(service, route, broker, settings.streaming, metrics, fatal).subscribe()
    for topic in {dlq(route.topic) for _, route in routes}:
        broker.subscriber(topic)(_dead_letter_sink(run, topic))
    async with TestKafkaBroker(broker) as br:
        for wave in inputs(settings, store, salt):
            for message in wave:
                await br.publish(encode(message), IMAGES)
    run.view = view.index
    return run


def _dead_letter_sink(run: Run, topic: str) -> Any:
    async def sink(msg: KafkaMessage) -> None:
        record = msg.raw_message
        headers = {k: v.decode() for k, v in record.headers}
        run.dead.append((topic, headers["x-reason"], image_of(decode(record.value))))

    return sink


def _identities(message: Any) -> list[str]:
    """What a message is about: its object, each vector it carries, or its image."""
    if hasattr(message, "object_id"):
        return [str(message.object_id)]
    if hasattr(message, "vectors"):
        return [f"{message.image_id}/{v.object_id}/{v.modality}" for v in message.vectors]
    return [str(message.image_id)]


def image_of(message: Any) -> str:
    return str(getattr(message, "image_id", ""))


def fatal(error: BaseException) -> None:
    raise AssertionError(f"a route gave up: {error!r}")


async def test_the_bus_and_the_kafka_runner_publish_dead_letter_and_index_the_same() -> None:
    in_process, on_kafka = await run_in_process(), await run_on_kafka()
    assert in_process.summary() == on_kafka.summary()


async def test_the_shared_run_has_what_each_input_calls_for() -> None:
    """The compared run is not vacuous: each input did what it should on both transports."""
    run = await run_in_process()
    published, dead, live = run.summary()
    reasons = sorted((topic, reason) for topic, reason, _ in dead)
    assert reasons == [
        (dlq(IMAGES), "ValueError"),  # the poison image alone, not its batch
        (dlq(IMAGES), "corrupt_image"),
        (dlq(IMAGES), "schema_error"),  # a caption where image events belong
    ]
    detected = {oid for topic, kind, oid in published if kind == "objects.detected"}
    assert len(detected) == 3, "red, blue and navy were detected; corrupt and poison were not"
    image_vectors = live[next(name for name in live if name.endswith(":image"))]
    # blue and navy: one box + the whole image each; red's were removed by its delete
    assert len(image_vectors) == 4
    assert any(kind == "objects.deleted" for _, kind, _ in published)
