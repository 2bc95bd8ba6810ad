"""Deterministic object-store keys, shared by every service that reads or writes them."""

from __future__ import annotations


def image_key(image_id: str) -> str:
    """Where an uploaded image's original bytes live (embedded mode and the ingest endpoint)."""
    return f"images/{image_id}"


def crop_key(image_id: str, object_id: str) -> str:
    """Where the detector stores an object's crop (a JPEG; the whole image for kind `image`)."""
    return f"crops/{image_id}/{object_id}.jpg"


def crop_prefix(image_id: str) -> str:
    return f"crops/{image_id}/"
