"""Decode untrusted image bytes into a normalised RGB picture, or raise a typed `ImageError`.

Every entry point (upload, bucket event, CLI) goes through `load_image`, so the detector,
embedder and captioner only ever see 8-bit RGB images with EXIF orientation applied.
Only common raster formats are opened (never EPS, which would run Ghostscript); sizes are
checked from the header before any pixel is decoded; truncated files are refused.
"""

from __future__ import annotations

import io
import logging
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from core.errors import (
    CorruptImage,
    EmptyImage,
    ImageError,
    ImageTooLarge,
    ImageTooSmall,
    NotAnImage,
)

log = logging.getLogger(__name__)

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")

# magic bytes of the formats we open: bytes that start like one of these but do not parse
# are a broken image (CorruptImage), anything else is not an image at all (NotAnImage)
_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def _is_pillows_own(opener: object) -> bool:
    code = getattr(opener, "__code__", None)  # not __module__: functools.wraps copies that
    return code is not None and Path(code.co_filename) == Path(Image.__file__)


# ultralytics (utils/patches.py) replaces PIL's Image.open on import with a wrapper that, for
# any file Pillow cannot identify, pip-installs pi-heif and retries. Bytes from users must never
# make a service install packages, so untrusted bytes go through Pillow's own function.
_PILLOW_OPEN: Callable[..., Image.Image] | None = (
    Image.open if _is_pillows_own(Image.open) else None
)


def _pillow_open() -> Callable[..., Image.Image]:
    opener = Image.open
    for _ in range(4):
        if _is_pillows_own(opener):
            return opener
        patcher = sys.modules.get(getattr(opener, "__module__", ""))
        inner = getattr(opener, "__wrapped__", None) or getattr(patcher, "_image_open", None)
        if inner is None or inner is opener:
            break
        opener = inner
    if _PILLOW_OPEN is not None:
        return _PILLOW_OPEN
    log.warning("PIL.Image.open is patched and its original cannot be found; using the patch")
    return Image.open


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 64_000_000
    min_side: int = 8


DEFAULT_LIMITS = ImageLimits()


def load_image(
    data: bytes, limits: ImageLimits = DEFAULT_LIMITS, max_side: int | None = None
) -> Image.Image:
    """Decode `data` to an 8-bit RGB image; raise a subclass of `ImageError` for anything else.

    `max_side` (pixels) shrinks a larger image so its long side fits, before any full-size
    conversion (a JPEG even decodes at the reduced scale): for query photos, which the models
    see at 640 and 224 pixels. `image.info["scale"]` is then the factor back to the original's
    pixels (1.0 when not shrunk)."""
    if not data:
        raise EmptyImage("image is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"image is {len(data)} bytes; the limit is {limits.max_bytes}")
    _refuse_truncated_images()
    image = _decode(data, limits, max_side)
    if min(image.size) < limits.min_side:
        raise ImageTooSmall(
            f"image is {image.width}x{image.height}; sides must be ≥{limits.min_side}"
        )
    scale = 1.0
    try:
        if max_side is not None and max(image.size) > max_side:
            scale = max(image.size) / max_side
            if min(image.size) / scale < limits.min_side:  # the models would get a sliver
                raise ImageTooSmall(
                    f"image is {image.width}x{image.height}: shrunk to {max_side} px on its long "
                    f"side its short side is under {limits.min_side} px (too thin to search)"
                )
            image = _shrink(image, scale)
        image = _normalise(image)
    except ImageError:
        raise
    except Exception as exc:  # a decoder or converter quirk must not crash the consumer
        raise CorruptImage(f"image could not be converted to RGB: {exc}") from exc
    image.info["scale"] = scale
    return image


def load_image_file(path: str | Path, limits: ImageLimits = DEFAULT_LIMITS) -> Image.Image:
    path = Path(path)
    size = path.stat().st_size
    if size > limits.max_bytes:  # refuse before reading a huge file into memory
        raise ImageTooLarge(f"image is {size} bytes; the limit is {limits.max_bytes}")
    return load_image(path.read_bytes(), limits)


def sniff_format(data: bytes) -> str | None:
    """The format the first bytes claim, for the formats we open; None if none matches."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next((name for magic, name in _MAGIC if data.startswith(magic)), None)


def _decode(data: bytes, limits: ImageLimits, max_side: int | None = None) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = _pillow_open()(io.BytesIO(data), formats=ALLOWED_FORMATS)
            width, height = image.size
            if width * height > limits.max_pixels:
                raise ImageTooLarge(
                    f"image is {width}x{height} = {width * height} pixels; "
                    f"the limit is {limits.max_pixels}"
                )
            if max_side is not None and image.format == "JPEG":
                image.draft("RGB", (max_side, max_side))  # decode at 1/2, 1/4 or 1/8 scale
            image.load()
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        claimed = sniff_format(data)
        if claimed:
            raise CorruptImage(f"bytes start like a {claimed} but its header is broken") from exc
        raise NotAnImage(
            f"bytes are not a supported image format ({', '.join(ALLOWED_FORMATS)})"
        ) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(
            f"image has too many pixels (over {limits.max_pixels:,}, or a decompression bomb)"
        ) from exc
    except MemoryError as exc:
        raise ImageTooLarge("image needs more memory to decode than is available") from exc
    except Exception as exc:  # OSError, SyntaxError, struct.error, ... from a broken body
        raise CorruptImage(f"image could not be decoded: {exc}") from exc
    return image


def _refuse_truncated_images() -> None:
    """A truncated upload must fail, not come back half grey. PIL's LOAD_TRUNCATED_IMAGES is a
    process-wide switch some libraries flip on; catalens decodes untrusted bytes, so it is
    switched back off (with a warning) rather than silently indexing broken pictures."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        log.warning("PIL.ImageFile.LOAD_TRUNCATED_IMAGES was on; turning it off")
        ImageFile.LOAD_TRUNCATED_IMAGES = False


GREY_ROWS_PER_BAND = 256


def _shrink(image: Image.Image, scale: float) -> Image.Image:
    """`image` smaller by `scale` (bilinear; 16- and 32-bit grey have no fast `reduce`)."""
    size = (max(1, round(image.width / scale)), max(1, round(image.height / scale)))
    gap = None if image.mode.startswith("I") or image.mode == "F" else 2.0
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=gap)


def _normalise(image: Image.Image) -> Image.Image:
    """EXIF orientation, then 8-bit RGB (grey, CMYK, palette, alpha and 16-bit included)."""
    try:
        image = ImageOps.exif_transpose(image) or image
    except Exception:
        log.debug("ignoring unreadable EXIF orientation", exc_info=True)
    if image.mode.startswith("I") or image.mode == "F":
        image = _to_8bit_grey(image)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "RGBa", "LA", "La", "PA"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def _to_8bit_grey(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit grey to 8-bit: 0..65535 maps to 0..255 (value / 257); float images
    in 0..1 are scaled by 255; anything wider is stretched from its own min..max. Converted a
    band of rows at a time, so a 40 MP 16-bit image needs no full-size float copy."""
    array = np.asarray(image)
    low, high = float(array.min()), float(array.max())
    if image.mode == "F" and low >= 0.0 and high <= 1.0:
        shift, scale = 0.0, 255.0
    elif image.mode.startswith("I;16") or (low >= 0.0 and high <= 65535.0):
        shift, scale = 0.0, 1.0 / 257.0
    else:
        shift, scale = low, (255.0 / (high - low) if high > low else 0.0)
    out = np.empty(array.shape, dtype=np.uint8)
    for start in range(0, array.shape[0], GREY_ROWS_PER_BAND):
        band = array[start : start + GREY_ROWS_PER_BAND].astype(np.float32)
        out[start : start + GREY_ROWS_PER_BAND] = np.clip(np.rint((band - shift) * scale), 0, 255)
    return Image.fromarray(out)


def encode_jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
