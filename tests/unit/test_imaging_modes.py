"""Good images of every mode, orientation and size: 8-bit RGB out, shrunk to a max side when
asked (the refusals: test_imaging.py)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core.errors import ImageTooSmall
from core.imaging import load_image
from tests.unit.imaging_kit import encode_image


def test_exif_orientation_is_applied() -> None:
    stored = Image.new("RGB", (80, 40), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 16, 16))  # red marker at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90° clockwise
    image = load_image(encode_image(stored, "JPEG", quality=95, exif=exif.tobytes()))
    assert image.size == (40, 80)
    red, _, blue = image.getpixel((image.width - 5, 5))  # the marker is now top-right
    assert red > 200 and blue < 60
    red, _, blue = image.getpixel((5, 5))
    assert red < 60 and blue > 200


def test_a_grey_image_becomes_rgb_with_equal_channels() -> None:
    image = load_image(encode_image(Image.new("L", (16, 16), 90), "PNG"))
    assert image.mode == "RGB" and image.getpixel((3, 3)) == (90, 90, 90)


def test_a_one_bit_image_becomes_black_and_white_rgb() -> None:
    image = load_image(encode_image(Image.new("1", (16, 16), 1), "PNG"))
    assert image.getpixel((0, 0)) == (255, 255, 255)


def test_a_cmyk_jpeg_becomes_rgb_with_its_colours() -> None:
    cyan = Image.new("CMYK", (16, 16), (255, 0, 0, 0))
    red, green, blue = load_image(encode_image(cyan, "JPEG", quality=95)).getpixel((8, 8))
    assert red < 30 and green > 225 and blue > 225


def test_a_palette_image_keeps_its_colours() -> None:
    image = Image.new("P", (16, 16), 1)
    image.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    assert load_image(encode_image(image, "PNG")).getpixel((4, 4)) == (10, 200, 30)


def test_a_transparent_palette_entry_becomes_white() -> None:
    image = Image.new("P", (16, 16), 1)
    image.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    image.paste(0, (0, 0, 8, 16))
    loaded = load_image(encode_image(image, "PNG", transparency=0))
    assert loaded.getpixel((2, 2)) == (255, 255, 255)
    assert loaded.getpixel((12, 2)) == (10, 200, 30)


def test_rgba_is_composited_onto_white() -> None:
    image = Image.new("RGBA", (16, 16), (255, 0, 0, 0))
    image.paste((255, 0, 0, 128), (8, 0, 16, 16))
    loaded = load_image(encode_image(image, "PNG"))
    assert loaded.mode == "RGB"
    assert loaded.getpixel((2, 2)) == (255, 255, 255)
    red, green, blue = loaded.getpixel((12, 2))
    assert red == 255 and 120 <= green <= 135 and green == blue


def test_grey_with_alpha_is_composited_onto_white() -> None:
    image = Image.new("LA", (16, 16), (0, 255))
    image.paste((0, 0), (0, 0, 8, 16))
    loaded = load_image(encode_image(image, "PNG"))
    assert loaded.getpixel((2, 2)) == (255, 255, 255)
    assert loaded.getpixel((12, 2)) == (0, 0, 0)


def test_a_16_bit_grey_png_is_scaled_to_8_bits() -> None:
    levels = np.array([[0, 32896, 65535]], dtype=np.uint16).repeat(16, axis=0).repeat(8, axis=1)
    data = encode_image(Image.fromarray(levels), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")  # really stored as 16 bits
    loaded = load_image(data)
    assert [loaded.getpixel((x, 0)) for x in (0, 10, 20)] == [
        (0, 0, 0),
        (128, 128, 128),
        (255, 255, 255),
    ]


def test_an_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = encode_image(frames[0], "GIF", save_all=True, append_images=frames[1:])
    red, _, blue = load_image(data).getpixel((8, 8))
    assert red > 200 and blue < 60


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
