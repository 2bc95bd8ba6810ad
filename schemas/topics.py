"""Kafka topic names. Every topic has a dead-letter twin `<topic>.dlq`."""

from __future__ import annotations

IMAGES = "images"
"""ImageUploaded and ImageDeleted, keyed by image id (bucket/key for a delete without one)."""
OBJECTS_DETECTED = "objects.detected"
"""ObjectsDetected, and ObjectsDeleted on its way to the indexer; keyed by image id."""
OBJECTS_CAPTIONED = "objects.captioned"
"""ObjectsCaptioned, keyed by image id."""
OBJECTS_EMBEDDED = "objects.embedded"
"""ObjectsEmbedded (image and caption vectors) and ObjectsDeleted; keyed by image id."""

ALL = (IMAGES, OBJECTS_DETECTED, OBJECTS_CAPTIONED, OBJECTS_EMBEDDED)


def dlq(topic: str) -> str:
    """The dead-letter topic of `topic`."""
    return f"{topic}.dlq"
