"""The messages of every hop, version 1. Field descriptions are the documentation.

upload -> `ImageUploaded` / `ImageDeleted` (topic `images`) -> detector -> `ObjectsDetected`
-> captioner -> `ObjectsCaptioned`; embedder -> `ObjectsEmbedded`; deletes reach the indexer as
`ObjectsDeleted`. Every downstream message is keyed and identified by the image id.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from schemas.base import BoxField, Id, Label, StrictModel, Uri
from schemas.envelope import VERSION_PATTERN, Envelope
from schemas.ids import ObjectKind, s3_uri
from schemas.vector import Vector

Modality = Literal["image", "caption"]


class ModelRef(StrictModel):
    """Which model produced a result."""

    backend: str = Field(
        min_length=1, description="runtime family, e.g. `ultralytics`, `open_clip`"
    )
    name: str = Field(min_length=1, description="model name or weights file")
    version: str = Field(min_length=1, description="weights version or checksum prefix")


class EmbedderRef(ModelRef):
    """Which embedding model produced the vectors; indexes are kept per embedder."""

    dim: int = Field(ge=1, le=65536, description="vector dimension")


class ImageUploaded(Envelope):
    """An image object was created or overwritten in the store (one per stored version)."""

    type: Literal["image.uploaded"] = "image.uploaded"
    image_id: Id = Field(description="content id (`image_id_from_bytes`) or `image_id_from_object`")
    bucket: str = Field(min_length=1, max_length=255, description="bucket (or folder) name")
    key: str = Field(min_length=1, max_length=1024, description="object key in the bucket")
    etag: str | None = Field(default=None, min_length=1, description="store's etag of this version")
    sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$", description="hex sha256 of bytes"
    )
    size: int = Field(ge=0, description="object size in bytes")
    content_type: str | None = Field(
        default=None, max_length=255, description="MIME type, if known"
    )
    source: str | None = Field(
        default=None, max_length=255, description="who uploaded: ui, cli, s3, ..."
    )
    filename: str | None = Field(default=None, max_length=1024, description="original file name")

    @model_validator(mode="after")
    def _has_a_version_marker(self) -> ImageUploaded:
        if self.etag is None and self.sha256 is None:
            raise PydanticCustomError("version_marker", "give etag or sha256 (or both)")
        return self

    @property
    def uri(self) -> str:
        return s3_uri(self.bucket, self.key)


class ImageDeleted(Envelope):
    """An image object was removed from the store."""

    type: Literal["image.deleted"] = "image.deleted"
    image_id: Id | None = Field(default=None, description="id of the deleted image, when known")
    bucket: str | None = Field(
        default=None, min_length=1, max_length=255, description="bucket name"
    )
    key: str | None = Field(default=None, min_length=1, max_length=1024, description="object key")

    @model_validator(mode="after")
    def _names_the_image(self) -> ImageDeleted:
        if self.image_id is None and (self.bucket is None or self.key is None):
            raise PydanticCustomError("deleted_what", "give image_id or bucket and key")
        return self


class DetectedObject(StrictModel):
    """One searchable object: a detection crop, or the whole image (kind `image`)."""

    object_id: Id = Field(description="`object_id(image_id, kind, box, label)`")
    kind: ObjectKind = Field(description="`object` for a detection, `image` for the whole image")
    label: Label = Field(description="detector class name (`image` for the whole image)")
    score: float = Field(ge=0.0, le=1.0, description="detector confidence (1.0 for kind image)")
    box: BoxField
    crop_uri: Uri | None = Field(default=None, description="where the crop's JPEG is stored")


class ObjectsDetected(Envelope):
    """The objects found in one image."""

    type: Literal["objects.detected"] = "objects.detected"
    image_id: Id = Field(description="id of the source image")
    image_uri: Uri = Field(description="where the source image is stored")
    width: int = Field(ge=1, description="image width in pixels")
    height: int = Field(ge=1, description="image height in pixels")
    detector: ModelRef = Field(description="the detection model")
    objects: list[DetectedObject] = Field(description="objects found; may be empty")
    source: str | None = Field(
        default=None, max_length=255, description="who uploaded the image (from ImageUploaded)"
    )
    filename: str | None = Field(
        default=None, max_length=1024, description="original file name (from ImageUploaded)"
    )

    @model_validator(mode="after")
    def _boxes_inside_image(self) -> ObjectsDetected:
        for i, obj in enumerate(self.objects):
            if obj.box[2] > self.width or obj.box[3] > self.height:
                raise PydanticCustomError(
                    "box_outside",
                    "objects[{i}].box {box} lies outside the {w}x{h} image",
                    {"i": i, "box": list(obj.box), "w": self.width, "h": self.height},
                )
        return self


class CaptionAttributes(StrictModel):
    """Structured attributes of a product object."""

    category: str = Field(min_length=1, max_length=128, description="product category")
    colours: list[str] = Field(default_factory=list, description="dominant colours, main first")
    pattern: str | None = Field(default=None, description="e.g. striped, floral, plain")
    material: str | None = Field(default=None, description="e.g. leather, cotton")
    style: str | None = Field(default=None, description="e.g. casual, formal")


class ObjectsCaptioned(Envelope):
    """A caption and attributes for one object."""

    type: Literal["objects.captioned"] = "objects.captioned"
    schema_version: str = Field(
        default="1.1", pattern=VERSION_PATTERN, description="1.1 adds `image_uri`"
    )
    image_id: Id = Field(description="id of the source image")
    image_uri: Uri | None = Field(
        default=None, description="where the source image is stored (the partition key)"
    )
    object_id: Id = Field(description="id of the captioned object")
    caption: str = Field(min_length=1, max_length=2000, description="one-sentence description")
    attributes: CaptionAttributes = Field(description="structured attributes")
    captioner: str = Field(min_length=1, description="captioning model, e.g. `gpt-4o`")


class EmbeddedVector(StrictModel):
    """One vector of one object."""

    object_id: Id = Field(description="id of the object")
    modality: Modality = Field(description="`image`: of the crop; `caption`: of its caption")
    vector: Vector = Field(description="L2-normalised embedding")


class ObjectsEmbedded(Envelope):
    """Vectors for objects of one image, all from one embedder."""

    type: Literal["objects.embedded"] = "objects.embedded"
    schema_version: str = Field(
        default="1.1", pattern=VERSION_PATTERN, description="1.1 adds `image_uri`"
    )
    image_id: Id = Field(description="id of the source image")
    image_uri: Uri | None = Field(
        default=None,
        description="where the source image is stored: the partition key, and how a bucket "
        "delete (which names only the uri) finds the vectors",
    )
    embedder: EmbedderRef = Field(description="the embedding model; vectors have its dim")
    vectors: list[EmbeddedVector] = Field(min_length=1, description="one entry per vector")

    @model_validator(mode="after")
    def _dims_match_embedder(self) -> ObjectsEmbedded:
        for i, item in enumerate(self.vectors):
            if item.vector.dim != self.embedder.dim:
                raise PydanticCustomError(
                    "vector_dim",
                    "vectors[{i}].vector.dim {got} does not match embedder.dim {want}",
                    {"i": i, "got": item.vector.dim, "want": self.embedder.dim},
                )
        return self


class ObjectsDeleted(Envelope):
    """Tombstone for the indexer: remove objects of an image from every index.

    The detector turns an ImageDeleted into this on `objects.detected`, and emits one with
    `superseded_by` ahead of every new version of a bucket key (an overwrite); the embedder
    forwards it unchanged to `objects.embedded`, so per image it stays behind that image's
    vectors.
    """

    type: Literal["objects.deleted"] = "objects.deleted"
    schema_version: str = Field(
        default="1.1", pattern=VERSION_PATTERN, description="1.1 adds `superseded_by`"
    )
    image_id: Id | None = Field(default=None, description="image whose objects go, when known")
    image_uri: Uri | None = Field(default=None, description="stored image whose objects go")
    object_ids: list[Id] | None = Field(
        default=None, description="only these objects; null removes every object of the image"
    )
    superseded_by: Id | None = Field(
        default=None,
        description="an overwrite: `image_uri` now holds this image, so every other version "
        "stored there goes and this one stays (a 1.0 reader removes them all; the new "
        "version's own messages follow)",
    )

    @model_validator(mode="after")
    def _names_the_image(self) -> ObjectsDeleted:
        if self.image_id is None and self.image_uri is None:
            raise PydanticCustomError("deleted_what", "give image_id or image_uri")
        if self.superseded_by is not None and (
            self.image_uri is None or self.image_id is not None or self.object_ids is not None
        ):
            raise PydanticCustomError(
                "superseded_what", "superseded_by goes with image_uri alone (no image or objects)"
            )
        return self


Event = (
    ImageUploaded
    | ImageDeleted
    | ObjectsDetected
    | ObjectsCaptioned
    | ObjectsEmbedded
    | ObjectsDeleted
)
EVENT_TYPES: dict[str, type[Envelope]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        ImageUploaded,
        ImageDeleted,
        ObjectsDetected,
        ObjectsCaptioned,
        ObjectsEmbedded,
        ObjectsDeleted,
    )
}
