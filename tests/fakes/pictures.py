"""Product photos drawn with PIL for tests: a few recognisable shapes on a soft background."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFilter

from core.domain import Box as DBox
from core.domain import Detection
from core.ports import Detector
from tests.fakes.catalog import FakeCatalog, SeedObject
from tests.fakes.ports import FixedDetector

COLOURS = {
    "red": (200, 40, 45),
    "blue": (40, 80, 190),
    "green": (40, 150, 70),
    "yellow": (235, 190, 40),
    "black": (30, 30, 34),
    "brown": (130, 85, 45),
}
Box = tuple[int, int, int, int]


def _handbag(d: ImageDraw.ImageDraw, b: Box, c: tuple[int, int, int]) -> None:
    x1, y1, x2, y2 = b
    w, h = x2 - x1, y2 - y1
    d.arc((x1 + w * 0.25, y1, x2 - w * 0.25, y1 + h * 0.6), 180, 360, fill=c, width=max(3, w // 20))
    d.polygon([(x1 + w * 0.1, y1 + h * 0.3), (x2 - w * 0.1, y1 + h * 0.3), (x2, y2), (x1, y2)], c)
    d.rectangle((x1 + w * 0.45, y1 + h * 0.4, x1 + w * 0.55, y1 + h * 0.5), fill=(220, 200, 120))


def _cup(d: ImageDraw.ImageDraw, b: Box, c: tuple[int, int, int]) -> None:
    x1, y1, x2, y2 = b
    w = x2 - x1
    d.ellipse(
        (x2 - w * 0.35, y1 + (y2 - y1) * 0.25, x2, y1 + (y2 - y1) * 0.7),
        outline=c,
        width=max(4, w // 12),
    )
    d.rounded_rectangle((x1, y1, x2 - w * 0.2, y2), radius=w // 8, fill=c)


def _bottle(d: ImageDraw.ImageDraw, b: Box, c: tuple[int, int, int]) -> None:
    x1, y1, x2, y2 = b
    w, h = x2 - x1, y2 - y1
    d.rectangle((x1 + w * 0.38, y1, x2 - w * 0.38, y1 + h * 0.25), fill=c)
    d.rounded_rectangle((x1, y1 + h * 0.22, x2, y2), radius=w // 4, fill=c)
    d.rectangle((x1, y1 + h * 0.5, x2, y1 + h * 0.7), fill=(245, 245, 240))


def _chair(d: ImageDraw.ImageDraw, b: Box, c: tuple[int, int, int]) -> None:
    x1, y1, x2, y2 = b
    w, h = x2 - x1, y2 - y1
    leg = max(4, w // 12)
    d.rectangle((x1 + w * 0.1, y1, x1 + w * 0.1 + leg, y2), fill=c)
    d.rectangle((x1 + w * 0.1, y1, x2 - w * 0.1, y1 + h * 0.45), fill=c)
    d.rectangle((x1, y1 + h * 0.5, x2, y1 + h * 0.6), fill=c)
    d.rectangle((x2 - w * 0.1 - leg, y1 + h * 0.5, x2 - w * 0.1, y2), fill=c)


def _umbrella(d: ImageDraw.ImageDraw, b: Box, c: tuple[int, int, int]) -> None:
    x1, y1, x2, y2 = b
    w, h = x2 - x1, y2 - y1
    d.pieslice((x1, y1, x2, y1 + h * 0.9), 180, 360, fill=c)
    d.line((x1 + w / 2, y1 + h * 0.45, x1 + w / 2, y2 - h * 0.1), fill=(60, 60, 60), width=4)
    d.arc((x1 + w / 2 - w * 0.12, y2 - h * 0.2, x1 + w / 2, y2), 0, 180, fill=(60, 60, 60), width=4)


SHAPES = {
    "handbag": _handbag,
    "cup": _cup,
    "bottle": _bottle,
    "chair": _chair,
    "umbrella": _umbrella,
}


def product_scene(
    items: Sequence[tuple[str, str, Box]],
    size: tuple[int, int] = (640, 420),
    background: tuple[int, int, int] = (236, 232, 224),
) -> Image.Image:
    """`items` are (label, colour name, box); each is drawn with a soft shadow."""
    image = Image.new("RGB", size, background)
    shadow = Image.new("L", size, 0)
    for _, _, (x1, _y1, x2, y2) in items:
        ImageDraw.Draw(shadow).ellipse((x1, y2 - 14, x2 + 10, y2 + 8), fill=90)
    image.paste((150, 146, 140), mask=shadow.filter(ImageFilter.GaussianBlur(8)))
    draw = ImageDraw.Draw(image)
    for label, colour, box in items:
        SHAPES[label](draw, box, COLOURS[colour])
    return image


def seed_objects(items: Sequence[tuple[str, str, Box]]) -> list[SeedObject]:
    return [
        SeedObject(
            label,
            box,
            f"a {colour} {label} on a plain studio background",
            {"colours": [colour], "category": label},
            0.8 + 0.02 * n,
        )
        for n, (label, colour, box) in enumerate(items)
    ]


CATALOG_SCENES: list[list[tuple[str, str, Box]]] = [
    [("handbag", "red", (60, 90, 300, 380)), ("cup", "blue", (380, 200, 540, 370))],
    [("handbag", "black", (340, 80, 590, 380)), ("bottle", "green", (90, 60, 200, 380))],
    [("chair", "brown", (80, 60, 300, 390)), ("umbrella", "yellow", (330, 60, 600, 380))],
    [("cup", "red", (70, 180, 250, 360)), ("bottle", "blue", (400, 50, 500, 380))],
]


def seeded_catalog(detector: Detector | None = None) -> FakeCatalog:
    catalog = FakeCatalog(detector)
    for n, items in enumerate(CATALOG_SCENES):
        catalog.add_image(product_scene(items), seed_objects(items), source=f"shop-{n % 2}")
    return catalog


def scene_detector(
    items: Sequence[tuple[str, str, Box]], size: tuple[int, int] | None = None
) -> FixedDetector:
    """A detector that finds exactly the drawn `items` (scores 0.9, 0.8, ...), in photos of
    `size` only when given."""
    return FixedDetector(
        [Detection(label, n, 0.9 - n / 10, DBox(*box)) for n, (label, _, box) in enumerate(items)],
        size,
    )
