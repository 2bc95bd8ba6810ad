"""Typed errors. A consumer catches `CatalensError` subclasses and dead-letters with the reason."""

from __future__ import annotations


class CatalensError(Exception):
    """Base for every error that carries a reason a user or a dead-letter header can read."""

    reason: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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


class ModelError(CatalensError):
    """A model could not be loaded or run (missing weights, wrong artifact version)."""

    reason = "model_error"


class CaptionerError(CatalensError):
    reason = "captioner_error"


class SpendCapReached(CaptionerError):
    reason = "spend_cap_reached"
