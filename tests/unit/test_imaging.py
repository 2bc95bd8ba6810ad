"""Untrusted bytes in, 8-bit RGB out, or a typed error: never a crash, never a hang."""

from __future__ import annotations

import functools
import io
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


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


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
    return _encode(_noise(), "JPEG", quality=90)


def _png() -> bytes:
    return _encode(_noise(), "PNG")


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
        lambda: _truncated(_encode(_noise(), "GIF")), CorruptImage, id="a_truncated_gif_is_corrupt"
    ),
    pytest.param(
        lambda: _truncated(_encode(_noise(), "WEBP")),
        CorruptImage,
        id="a_truncated_webp_is_corrupt",
    ),
    pytest.param(
        lambda: _truncated(_encode(_noise(), "TIFF")),
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
        lambda: _encode(Image.new("RGB", (1, 1)), "PNG"),
        ImageTooSmall,
        id="a_one_pixel_image_is_too_small",
    ),
    pytest.param(
        lambda: _encode(Image.new("RGB", (500, 4)), "PNG"),
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


def test_exif_orientation_is_applied() -> None:
    stored = Image.new("RGB", (80, 40), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 16, 16))  # red marker at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90° clockwise
    image = load_image(_encode(stored, "JPEG", quality=95, exif=exif.tobytes()))
    assert image.size == (40, 80)
    red, _, blue = image.getpixel((image.width - 5, 5))  # the marker is now top-right
    assert red > 200 and blue < 60
    red, _, blue = image.getpixel((5, 5))
    assert red < 60 and blue > 200


def test_a_grey_image_becomes_rgb_with_equal_channels() -> None:
    image = load_image(_encode(Image.new("L", (16, 16), 90), "PNG"))
    assert image.mode == "RGB" and image.getpixel((3, 3)) == (90, 90, 90)


def test_a_one_bit_image_becomes_black_and_white_rgb() -> None:
    image = load_image(_encode(Image.new("1", (16, 16), 1), "PNG"))
    assert image.getpixel((0, 0)) == (255, 255, 255)


def test_a_cmyk_jpeg_becomes_rgb_with_its_colours() -> None:
    cyan = Image.new("CMYK", (16, 16), (255, 0, 0, 0))
    red, green, blue = load_image(_encode(cyan, "JPEG", quality=95)).getpixel((8, 8))
    assert red < 30 and green > 225 and blue > 225


def test_a_palette_image_keeps_its_colours() -> None:
    image = Image.new("P", (16, 16), 1)
    image.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    assert load_image(_encode(image, "PNG")).getpixel((4, 4)) == (10, 200, 30)


def test_a_transparent_palette_entry_becomes_white() -> None:
    image = Image.new("P", (16, 16), 1)
    image.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    image.paste(0, (0, 0, 8, 16))
    loaded = load_image(_encode(image, "PNG", transparency=0))
    assert loaded.getpixel((2, 2)) == (255, 255, 255)
    assert loaded.getpixel((12, 2)) == (10, 200, 30)


def test_rgba_is_composited_onto_white() -> None:
    image = Image.new("RGBA", (16, 16), (255, 0, 0, 0))
    image.paste((255, 0, 0, 128), (8, 0, 16, 16))
    loaded = load_image(_encode(image, "PNG"))
    assert loaded.mode == "RGB"
    assert loaded.getpixel((2, 2)) == (255, 255, 255)
    red, green, blue = loaded.getpixel((12, 2))
    assert red == 255 and 120 <= green <= 135 and green == blue


def test_grey_with_alpha_is_composited_onto_white() -> None:
    image = Image.new("LA", (16, 16), (0, 255))
    image.paste((0, 0), (0, 0, 8, 16))
    loaded = load_image(_encode(image, "PNG"))
    assert loaded.getpixel((2, 2)) == (255, 255, 255)
    assert loaded.getpixel((12, 2)) == (0, 0, 0)


def test_a_16_bit_grey_png_is_scaled_to_8_bits() -> None:
    levels = np.array([[0, 32896, 65535]], dtype=np.uint16).repeat(16, axis=0).repeat(8, axis=1)
    data = _encode(Image.fromarray(levels), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")  # really stored as 16 bits
    loaded = load_image(data)
    assert [loaded.getpixel((x, 0)) for x in (0, 10, 20)] == [
        (0, 0, 0),
        (128, 128, 128),
        (255, 255, 255),
    ]


def test_an_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    red, _, blue = load_image(data).getpixel((8, 8))
    assert red > 200 and blue < 60


def test_the_default_limits_allow_a_large_photo_size() -> None:
    assert DEFAULT_LIMITS.max_pixels >= 6000 * 4000


def test_a_long_strip_is_resized_before_it_is_padded_to_the_tower_square() -> None:
    from core.embedding.aligned.towers import square_pad

    strip = Image.new("RGB", (20000, 400), (200, 10, 10))  # padded first: 1.2 GB of canvas
    square = square_pad(strip, 224)
    assert square.size == (224, 224)
    assert square.getpixel((112, 0)) == (255, 255, 255)  # white above and below
    red, green, _ = square.getpixel((112, 112))
    assert red > 150 and green < 60  # the strip itself, centred


@pytest.mark.parametrize("mode", ["I;16", "I", "F", "L", "P", "RGBA", "CMYK"])
def test_a_query_photo_of_any_mode_shrinks_to_max_side_and_says_by_how_much(mode: str) -> None:
    image = Image.new("RGB", (3000, 1500), (90, 140, 200)).convert(
        "L" if mode in ("I;16", "I", "F") else mode
    )
    if mode in ("I;16", "I", "F"):
        image = (
            image.convert(mode)
            if mode != "I;16"
            else Image.fromarray(np.asarray(image).astype(np.uint16) * 257)
        )
    buffer = io.BytesIO()
    image.save(buffer, "TIFF" if mode in ("I", "F", "CMYK") else "PNG")
    small = load_image(buffer.getvalue(), max_side=1000)
    assert small.mode == "RGB" and small.size == (1000, 500)
    assert small.info["scale"] == 3.0


@pytest.mark.parametrize("size", [(5000, 8), (10, 3000), (20000, 10)])
def test_a_strip_too_thin_once_shrunk_to_max_side_is_refused_at_the_edge(
    size: tuple[int, int],
) -> None:
    """The pipeline shrinks uploads to the detector's max side: a strip that would become a
    sliver under 8 px is refused when it arrives, never accepted and then dead-lettered."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, "PNG")
    with pytest.raises(ImageTooSmall, match="too thin"):
        load_image(buffer.getvalue(), max_side=2048)
    assert load_image(buffer.getvalue()).size == size  # without a max side it is fine
