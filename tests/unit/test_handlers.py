"""Handler logic with fakes of the ports: what each hop emits, rejects and forwards."""

from __future__ import annotations

import io

from PIL import Image

from core.handoff import DecodedImages
from core.inference import ModelRunner
from core.settings import CropSettings
from core.storage_keys import crop_key
from schemas import (
    OBJECTS_CAPTIONED,
    OBJECTS_DETECTED,
    OBJECTS_EMBEDDED,
    ImageDeleted,
    ImageUploaded,
    ObjectsDeleted,
    image_id_from_bytes,
)
from services.captioner.handler import CaptionerPorts
from services.captioner.handler import handle_detected as caption_detected
from services.detector.handler import DetectorPorts, handle_images
from services.embedder.handler import EmbedderPorts, handle_captioned
from services.embedder.handler import handle_detected as embed_detected
from tests.fakes.ports import DictStore, LabelCaptioner, MeanColourEmbedder, OneBoxDetector


def _jpeg(colour: str, size: tuple[int, int] = (200, 160)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG")
    return buffer.getvalue()


async def _upload(store: DictStore, data: bytes) -> ImageUploaded:
    image_id = image_id_from_bytes(data)
    await store.put(f"images/{image_id}", data)
    return ImageUploaded(
        producer="test",
        image_id=image_id,
        bucket="b",
        key=f"images/{image_id}",
        sha256=__import__("hashlib").sha256(data).hexdigest(),
        size=len(data),
    )


def _detector_ports(store: DictStore, detector: OneBoxDetector) -> DetectorPorts:
    return DetectorPorts(store, store, detector, ModelRunner("t"), CropSettings(min_size=10))


async def test_the_detector_crops_stores_and_emits_one_message_per_good_image_in_one_batch():
    store, detector = DictStore(), OneBoxDetector()
    good = [await _upload(store, _jpeg(c)) for c in ("red", "blue")]
    out = await handle_images(good, _detector_ports(store, detector))
    assert detector.batches == [2]
    assert [t for t, _ in out.publish] == [OBJECTS_DETECTED, OBJECTS_DETECTED]
    first = out.publish[0][1]
    assert [o.kind for o in first.objects] == ["object", "image"]
    assert first.objects[0].label == "handbag" and first.objects[1].box == (0, 0, 200, 160)
    for obj in first.objects:
        assert await store.exists(crop_key(first.image_id, obj.object_id))


async def test_a_corrupt_image_is_dead_lettered_with_its_reason_and_the_others_go_on():
    store, detector = DictStore(), OneBoxDetector()
    good = await _upload(store, _jpeg("green"))
    bad = await _upload(store, _jpeg("red")[:300])
    out = await handle_images([bad, good], _detector_ports(store, detector))
    assert [m.image_id for _, m in out.publish] == [good.image_id]
    [dead] = out.dead
    assert dead.message is bad and dead.reason == "corrupt_image"


async def test_an_image_missing_from_the_store_is_dead_lettered_not_raised():
    store = DictStore()
    ghost = await _upload(DictStore(), _jpeg("red"))
    out = await handle_images([ghost], _detector_ports(store, OneBoxDetector()))
    assert [d.reason for d in out.dead] == ["image_missing"]


async def test_a_delete_becomes_a_tombstone_that_the_embedder_forwards_in_order():
    store = DictStore()
    out = await handle_images(
        [ImageDeleted(producer="t", image_id="abc")], _detector_ports(store, OneBoxDetector())
    )
    [(topic, tombstone)] = out.publish
    assert topic == OBJECTS_DETECTED and isinstance(tombstone, ObjectsDeleted)
    forwarded = await embed_detected(
        [tombstone], EmbedderPorts(store, MeanColourEmbedder(), ModelRunner("e"))
    )
    assert forwarded.publish == [(OBJECTS_EMBEDDED, tombstone)]


async def test_a_tombstone_in_a_batch_stays_behind_the_vectors_of_the_images_before_it():
    store, embedder = DictStore(), MeanColourEmbedder()
    uploads = [await _upload(store, _jpeg(c)) for c in ("red", "blue")]
    detected = [
        m
        for _, m in (await handle_images(uploads, _detector_ports(store, OneBoxDetector()))).publish
    ]
    tombstone = ObjectsDeleted(producer="t", image_id=uploads[0].image_id)
    batch = [detected[0], tombstone, detected[1]]
    out = await embed_detected(batch, EmbedderPorts(store, embedder, ModelRunner("e")))
    kinds = [(type(m).__name__, m.image_id) for _, m in out.publish]
    assert kinds == [
        ("ObjectsEmbedded", uploads[0].image_id),
        ("ObjectsDeleted", uploads[0].image_id),
        ("ObjectsEmbedded", uploads[1].image_id),
    ]


async def test_the_embedder_embeds_every_crop_of_a_batch_in_one_call_and_keeps_the_model():
    store, embedder = DictStore(), MeanColourEmbedder()
    uploads = [await _upload(store, _jpeg(c)) for c in ("red", "blue", "white")]
    detected = [
        m
        for _, m in (await handle_images(uploads, _detector_ports(store, OneBoxDetector()))).publish
    ]
    out = await embed_detected(detected, EmbedderPorts(store, embedder, ModelRunner("e")))
    assert embedder.calls == [6]
    assert [m.image_id for _, m in out.publish] == [u.image_id for u in uploads]
    message = out.publish[0][1]
    assert message.embedder.name == "mean-colour" and message.embedder.dim == 3
    assert {v.modality for v in message.vectors} == {"image"}
    assert len(message.vectors) == 2


async def test_captions_are_embedded_as_caption_vectors_of_the_same_objects():
    store = DictStore()
    [upload] = [await _upload(store, _jpeg("red"))]
    [(_, detected)] = (
        await handle_images([upload], _detector_ports(store, OneBoxDetector()))
    ).publish
    captions = await caption_detected([detected], CaptionerPorts(store, LabelCaptioner()))
    assert [t for t, _ in captions.publish] == [OBJECTS_CAPTIONED] * 2
    assert captions.publish[0][1].caption == "a handbag"
    embedded = await handle_captioned(
        [m for _, m in captions.publish],
        EmbedderPorts(store, MeanColourEmbedder(), ModelRunner("e")),
    )
    [(_, message)] = embedded.publish
    assert {v.modality for v in message.vectors} == {"caption"}
    assert {v.object_id for v in message.vectors} == {o.object_id for o in detected.objects}


async def test_a_caption_failure_dead_letters_only_that_object():
    store = DictStore()
    upload = await _upload(store, _jpeg("red"))
    [(_, detected)] = (
        await handle_images([upload], _detector_ports(store, OneBoxDetector()))
    ).publish
    poisoned = detected.model_copy(
        update={
            "objects": [
                detected.objects[0].model_copy(update={"label": "poison"}),
                detected.objects[1],
            ]
        }
    )
    out = await caption_detected([poisoned], CaptionerPorts(store, LabelCaptioner()))
    assert len(out.publish) == 1
    [dead] = out.dead
    assert dead.reason == "captioner_error" and [o.label for o in dead.message.objects] == [
        "poison"
    ]


async def test_the_detector_takes_the_image_the_ingest_call_decoded_instead_of_decoding_again():
    store, detector = DictStore(), OneBoxDetector()
    data = _jpeg("red")
    upload = await _upload(store, data)
    store.items[upload.key] = b"not read: the image was handed over decoded"
    handed = DecodedImages()
    handed.put(upload.image_id, Image.open(io.BytesIO(data)).convert("RGB"))
    ports = _detector_ports(store, detector)
    ports.decoded = handed
    out = await handle_images([upload], ports)
    assert [t for t, _ in out.publish] == [OBJECTS_DETECTED] and out.dead == []
    assert len(handed) == 0, "taken once"
    again = await handle_images([upload], ports)  # a redelivery reads the store again
    assert [d.reason for d in again.dead] == ["not_an_image"]


def test_decoded_images_keep_only_the_newest_max_items():
    handed = DecodedImages(max_items=2)
    for name in ("a", "b", "c"):
        handed.put(name, Image.new("RGB", (4, 4)))
    assert handed.take("a") is None and handed.take("b") is not None and len(handed) == 1
