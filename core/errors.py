"""Typed errors. A consumer catches `CatalensError` subclasses and dead-letters with the reason."""

from __future__ import annotations

from schemas.errors import CatalensError

__all__ = [
    "CaptionerError",
    "CatalensError",
    "CorruptImage",
    "CropMissing",
    "EmptyImage",
    "ImageError",
    "ImageMissing",
    "ImageTooLarge",
    "ImageTooSmall",
    "ModelError",
    "NotAnImage",
    "NotIndexed",
    "SpendCapReached",
    "VersionChanged",
]


class ImageError(CatalensError):
    """The bytes given are not an image we can process. Never retried."""

    reason = "bad_image"


class EmptyImage(ImageError):
    reason = "empty_image"


class NotAnImage(ImageError):
    reason = "not_an_image"


class CorruptImage(ImageError):
    reason = "corrupt_image"


class ImageTooLarge(ImageError):
    """Too many bytes or too many pixels (decompression bombs land here)."""

    reason = "image_too_large"


class ImageTooSmall(ImageError):
    reason = "image_too_small"


class ImageMissing(ImageError):
    """An event names an image the object store does not have (deleted, or never stored)."""

    reason = "image_missing"


class CropMissing(ImageError):
    """An object's crop is not in the crop store."""

    reason = "crop_missing"


class ModelError(CatalensError):
    """A model could not be loaded or run (missing weights, wrong artifact version)."""

    reason = "model_error"


class NotIndexed(CatalensError):
    """The pipeline refused an accepted upload for good (its dead letter says why)."""

    reason = "not_indexed"


class CaptionerError(CatalensError):
    reason = "captioner_error"


class SpendCapReached(CaptionerError):
    reason = "spend_cap_reached"


class VersionChanged(KeyError):
    """The key holds another version than the one an event names (it was overwritten since).
    Not a dead letter: the newer version has an event of its own, later in the key's partition
    (or a reconciler's), so the stale event has nothing left to do."""
