"""Untrusted bytes in, 8-bit RGB out, or a typed error: never a crash, never a hang (the good
images of every mode and size: test_imaging_modes.py)."""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageFile

from core.errors import (
    CorruptImage,
    EmptyImage,
    ImageError,
    ImageTooLarge,
    ImageTooSmall,
    NotAnImage,
)
from core.imaging import DEFAULT_LIMITS, ImageLimits, load_image, load_image_file
from tests.unit.imaging_kit import encode_image


def _noise(width: int = 64, height: int = 48) -> Image.Image:
    rng = np.random.default_rng(7)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _png_declaring(width: int, height: int) -> bytes:
    """A few hundred bytes whose header claims width×height RGB pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + _png_chunk(b"IEND", b"")
    )


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _with_bytes(data: bytes, at: int, replacement: bytes) -> bytes:
    return data[:at] + replacement + data[at + len(replacement) :]


def _jpeg() -> bytes:
    return encode_image(_noise(), "JPEG", quality=90)


def _png() -> bytes:
    return encode_image(_noise(), "PNG")


def _jpeg_with_broken_scan_header() -> bytes:
    data = _jpeg()
    start_of_scan = data.index(b"\xff\xda")
    return _with_bytes(data, start_of_scan + 2, b"\x00\x01")


def _jpeg_with_broken_huffman_table() -> bytes:
    data = _jpeg()
    table = data.index(b"\xff\xc4")
    return _with_bytes(data, table + 4, b"\xff" * 36)


def _png_with_bad_header_crc() -> bytes:
    data = bytearray(_png())
    data[29] ^= 0xFF  # last byte of the IHDR checksum
    return bytes(data)


def _png_with_garbage_pixels() -> bytes:
    data = _png()
    return _with_bytes(data, data.index(b"IDAT") + 4, b"\x00" * 26)


BAD_IMAGES = [
    pytest.param(lambda: b"", EmptyImage, id="zero_bytes_are_an_empty_image"),
    pytest.param(
        lambda: b"hello, this is a text file\n" * 20, NotAnImage, id="plain_text_is_not_an_image"
    ),
    pytest.param(
        lambda: b"<!doctype html><html><body>hi</body></html>",
        NotAnImage,
        id="html_is_not_an_image",
    ),
    pytest.param(
        lambda: np.random.default_rng(1).bytes(4096), NotAnImage, id="random_bytes_are_not_an_image"
    ),
    pytest.param(
        lambda: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n",
        NotAnImage,
        id="a_pdf_is_not_an_image",
    ),
    pytest.param(
        lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n", NotAnImage, id="postscript_is_refused_not_rendered"
    ),
    pytest.param(lambda: _truncated(_jpeg()), CorruptImage, id="a_truncated_jpeg_is_corrupt"),
    pytest.param(lambda: _jpeg()[:-2], CorruptImage, id="a_jpeg_missing_its_last_bytes_is_corrupt"),
    pytest.param(lambda: _truncated(_png()), CorruptImage, id="a_truncated_png_is_corrupt"),
    pytest.param(
        _jpeg_with_broken_scan_header,
        CorruptImage,
        id="a_jpeg_with_a_broken_scan_header_is_corrupt",
    ),
    pytest.param(
        _jpeg_with_broken_huffman_table,
        CorruptImage,
        id="a_jpeg_with_a_broken_huffman_table_is_corrupt",
    ),
    pytest.param(
        _png_with_bad_header_crc, CorruptImage, id="a_png_with_a_bad_header_crc_is_corrupt"
    ),
    pytest.param(
        _png_with_garbage_pixels, CorruptImage, id="a_png_with_garbage_pixel_data_is_corrupt"
    ),
    pytest.param(lambda: b"GIF89a\x10\x00", CorruptImage, id="a_gif_header_alone_is_corrupt"),
    pytest.param(
        lambda: b"\xff\xd8\xff\xe0\x00\x10JFIF", CorruptImage, id="a_jpeg_header_alone_is_corrupt"
    ),
    pytest.param(
        lambda: _truncated(encode_image(_noise(), "GIF")),
        CorruptImage,
        id="a_truncated_gif_is_corrupt",
    ),
    pytest.param(
        lambda: _truncated(encode_image(_noise(), "WEBP")),
        CorruptImage,
        id="a_truncated_webp_is_corrupt",
    ),
    pytest.param(
        lambda: _truncated(encode_image(_noise(), "TIFF")),
        CorruptImage,
        id="a_truncated_tiff_is_corrupt",
    ),
    pytest.param(
        lambda: _png_declaring(100_000, 100_000),
        ImageTooLarge,
        id="a_png_declaring_100000_squared_is_a_bomb",
    ),
    pytest.param(
        lambda: _png_declaring(9000, 9000),
        ImageTooLarge,
        id="a_png_declaring_9000_squared_is_over_the_pixel_limit",
    ),
    pytest.param(
        lambda: encode_image(Image.new("RGB", (1, 1)), "PNG"),
        ImageTooSmall,
        id="a_one_pixel_image_is_too_small",
    ),
    pytest.param(
        lambda: encode_image(Image.new("RGB", (500, 4)), "PNG"),
        ImageTooSmall,
        id="a_thin_strip_is_too_small",
    ),
]


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("make", "expected"), BAD_IMAGES)
def test_a_bad_image_raises_its_typed_error(
    make: Callable[[], bytes], expected: type[ImageError]
) -> None:
    with pytest.raises(expected) as raised:
        load_image(make())
    assert raised.value.message  # the reason a user or a DLQ header reads


def test_bytes_over_the_byte_limit_are_refused_before_decoding() -> None:
    with pytest.raises(ImageTooLarge):
        load_image(_png(), ImageLimits(max_bytes=100))


def test_a_file_over_the_byte_limit_is_refused_without_reading_it(tmp_path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(_png())
    with pytest.raises(ImageTooLarge):
        load_image_file(path, ImageLimits(max_bytes=100))


def test_a_truncated_jpeg_is_refused_even_if_a_library_allowed_truncated_images(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(CorruptImage):
        load_image(_truncated(_jpeg()))


def test_a_library_that_replaced_image_open_is_bypassed(monkeypatch: pytest.MonkeyPatch) -> None:
    pillows_open = Image.open

    @functools.wraps(pillows_open)
    def installs_packages(*args: object, **kwargs: object) -> Image.Image:
        raise AssertionError("load_image went through a patched Image.open")

    monkeypatch.setattr(Image, "open", installs_packages)
    assert load_image(_jpeg()).size == (64, 48)
    with pytest.raises(NotAnImage):
        load_image(b"plain text")


def test_a_good_jpeg_comes_back_as_rgb_of_the_same_size() -> None:
    image = load_image(_jpeg())
    assert (image.mode, image.size) == ("RGB", (64, 48))


def test_the_default_limits_allow_a_large_photo_size() -> None:
    assert DEFAULT_LIMITS.max_pixels >= 6000 * 4000
