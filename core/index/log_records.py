"""What a `LogIndex` applies and the image maps it keeps per partition (shared by `log_index`
and `view_batch`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from schemas import ObjectsDeleted, ObjectsEmbedded
from schemas.embedded_view import EmbeddedView

Record = tuple[int, int, "ObjectsEmbedded | EmbeddedView | ObjectsDeleted | None"]


def is_late(message: ObjectsEmbedded | EmbeddedView, removed: bool) -> bool:
    """Whether vectors of an image a tombstone has removed are late enrichment, to be dropped:
    caption vectors travel a longer path (captioner, embedder) than the tombstone, which
    follows the image vectors on the detections' path. Image vectors after it are a new
    detection of that id (the same bytes stored again) and bring it back."""
    if not removed:
        return False
    if isinstance(message, EmbeddedView):
        return "image" not in message.modalities
    return all(v.modality != "image" for v in message.vectors)


@dataclass
class PartitionMaps:
    """Per partition: image id → its object ids, uri → image ids stored there (and back), and
    the images tombstones removed (whose late caption vectors `is_late` drops)."""

    objects_of_image: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    images_at_uri: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    uri_of_image: dict[str, str] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)

    def place(self, image_id: str, uri: str) -> None:
        self.images_at_uri[uri].add(image_id)
        self.uri_of_image[image_id] = uri

    def forget_images(self, image_ids: set[str]) -> None:
        for image_id in image_ids:
            self.objects_of_image.pop(image_id, None)
            uri = self.uri_of_image.pop(image_id, None)
            if uri is not None and uri in self.images_at_uri:
                self.images_at_uri[uri].discard(image_id)
                if not self.images_at_uri[uri]:
                    del self.images_at_uri[uri]
