"""Decode untrusted image bytes into a normalised RGB picture, or raise a typed `ImageError`.

Every entry point (upload, bucket event, CLI) goes through `load_image`, so the detector,
embedder and captioner only ever see 8-bit RGB images with EXIF orientation applied.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from catalens.errors import CorruptImage, EmptyImage, ImageTooLarge, ImageTooSmall, NotAnImage


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 64_000_000
    min_side: int = 8


DEFAULT_LIMITS = ImageLimits()


def load_image(data: bytes, limits: ImageLimits = DEFAULT_LIMITS) -> Image.Image:
    """Decode `data` to an RGB image; raise a subclass of `ImageError` for anything else."""
    if not data:
        raise EmptyImage("image is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"image is {len(data)} bytes; the limit is {limits.max_bytes}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            width, height = probe.size
            if width * height > limits.max_pixels:
                raise ImageTooLarge(
                    f"image is {width}x{height} = {width * height} pixels; "
                    f"the limit is {limits.max_pixels}"
                )
            probe.load()
    except UnidentifiedImageError as exc:
        raise NotAnImage("bytes are not a recognised image format") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"decompression bomb refused: {exc}") from exc
    except ImageTooLarge:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImage(f"image could not be decoded: {exc}") from exc
    image = _normalise(probe)
    if min(image.size) < limits.min_side:
        raise ImageTooSmall(f"image is {image.width}x{image.height}; sides must be ≥{limits.min_side}")
    return image


def load_image_file(path: str | Path, limits: ImageLimits = DEFAULT_LIMITS) -> Image.Image:
    return load_image(Path(path).read_bytes(), limits)


def _normalise(image: Image.Image) -> Image.Image:
    """EXIF orientation, then 8-bit RGB (grey, CMYK, palette, alpha and 16-bit included)."""
    try:
        image = ImageOps.exif_transpose(image) or image
    except Exception:  # noqa: BLE001 - a broken EXIF block must not lose the picture
        pass
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        low, high = float(array.min()), float(array.max())
        scale = 255.0 / (high - low) if high > low else 0.0
        image = Image.fromarray(((array - low) * scale).astype(np.uint8), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").split()[-1])
        return background
    return image.convert("RGB")


def encode_jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
