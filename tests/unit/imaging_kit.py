"""Shared by the imaging tests (test_imaging.py, test_imaging_modes.py): a PIL image as the bytes
of a file in one format."""

from __future__ import annotations

import io

from PIL import Image


def encode_image(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()
