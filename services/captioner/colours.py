"""Name the dominant colours of a crop from its pixels.

Pixels are converted to CIELAB (a perceptual space), near-white background that touches the
crop's border is masked out (product shots sit on white), and every remaining pixel is given the
name of its nearest prototype colour (chroma weighs more than lightness; pixels near the centre
count more; grey, which shading puts on every item, is discounted). Names that cover enough
of the item are its colours, largest share first. A white item on white keeps its name: when
the mask leaves almost nothing, the whole crop is used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

# Named palette: a few sRGB prototypes per name (light, mid and dark variants).
PALETTE: dict[str, tuple[tuple[int, int, int], ...]] = {
    "black": ((0, 0, 0), (28, 28, 30), (45, 45, 48), (58, 58, 62)),
    "white": ((255, 255, 255), (242, 242, 238), (232, 230, 225), (218, 218, 218)),
    "grey": ((80, 80, 82), (115, 115, 117), (150, 150, 152), (180, 180, 182)),
    "red": ((200, 25, 35), (230, 55, 55), (170, 30, 40), (145, 25, 35)),
    "maroon": ((100, 20, 35), (75, 15, 25), (90, 25, 40)),
    "orange": ((240, 120, 30), (250, 160, 40), (215, 95, 40)),
    "yellow": ((250, 220, 40), (240, 205, 80), (250, 235, 130)),
    "green": ((40, 140, 60), (110, 180, 90), (25, 90, 50), (150, 210, 160)),
    "olive": ((110, 110, 50), (85, 90, 45), (140, 135, 80)),
    "teal": ((0, 128, 128), (40, 170, 170), (20, 95, 100)),
    "blue": ((30, 80, 200), (60, 120, 210), (110, 160, 220), (70, 100, 150), (160, 195, 230)),
    "navy": ((20, 30, 70), (35, 45, 95), (30, 35, 55)),
    "purple": ((110, 50, 140), (150, 100, 180), (80, 40, 100), (185, 160, 215)),
    "pink": ((240, 130, 170), (250, 190, 200), (220, 60, 130), (230, 160, 170)),
    "brown": ((120, 70, 40), (90, 55, 35), (160, 110, 70), (65, 45, 35)),
    "beige": ((220, 200, 160), (200, 180, 140), (235, 220, 195)),
}

_WORK_SIDE = 64  # pixels on the longest side; colour needs no more
_BACKGROUND_L = 90.0  # lightness above which a low-chroma pixel may be background
_BACKGROUND_CHROMA = 8.0
_MIN_ITEM_SHARE = 0.08  # below this share of non-background pixels the item is itself white
_CHROMA_WEIGHT = 2.5  # a and b count more than lightness: shading changes L, not the colour
_CENTRE_SIGMA = 0.25  # pixels near the centre count more (the item, not the model's shoes)
_GREY_WEIGHT = 0.6  # highlights and shadows look grey on any item; grey must win clearly


@dataclass(frozen=True)
class ColourShare:
    name: str
    share: float


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 sRGB → (..., 3) float CIELAB (D65)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    to_xyz = np.array(
        [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
    )
    xyz = linear @ to_xyz.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    lightness = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return np.stack([lightness, a, b], axis=-1)


_NAMES = tuple(PALETTE)
_PROTO_NAMES = np.array([i for i, name in enumerate(_NAMES) for _ in PALETTE[name]])
_PROTO_LAB = srgb_to_lab(np.array([rgb for name in _NAMES for rgb in PALETTE[name]]))


def background_mask(lab: np.ndarray) -> np.ndarray:
    """Near-white pixels flooded in from the border, except those with item above and below.

    The exception keeps white horizontal stripes and white panels that reach the item's edge
    (a blue and white striped shirt stays blue and white); vertical ones may still be lost."""
    flooded = _border_flood(lab)
    item = ~flooded
    above = np.maximum.accumulate(item, axis=0)
    below = np.flip(np.maximum.accumulate(np.flip(item, axis=0), axis=0), axis=0)
    return flooded & ~(above & below)


def _border_flood(lab: np.ndarray) -> np.ndarray:
    """Near-white pixels connected to the border through near-white pixels (a flood fill)."""
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    candidate = (lab[..., 0] >= _BACKGROUND_L) & (chroma <= _BACKGROUND_CHROMA)
    mask = np.zeros_like(candidate)
    mask[0, :], mask[-1, :], mask[:, 0], mask[:, -1] = (
        candidate[0, :],
        candidate[-1, :],
        candidate[:, 0],
        candidate[:, -1],
    )
    while True:
        grown = mask.copy()
        grown[1:, :] |= mask[:-1, :]
        grown[:-1, :] |= mask[1:, :]
        grown[:, 1:] |= mask[:, :-1]
        grown[:, :-1] |= mask[:, 1:]
        grown &= candidate
        if np.array_equal(grown, mask):
            return mask
        mask = grown


def name_pixels(lab: np.ndarray) -> np.ndarray:
    """(n, 3) Lab → (n,) index into the palette names, by nearest prototype."""
    weights = np.array([1.0, _CHROMA_WEIGHT, _CHROMA_WEIGHT])
    distances = (((lab[:, None, :] - _PROTO_LAB[None, :, :]) * weights) ** 2).sum(axis=-1)
    return np.asarray(_PROTO_NAMES[distances.argmin(axis=1)])


def _centre_weights(height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    dy = (yy - height / 2) / (height * _CENTRE_SIGMA)
    dx = (xx - width / 2) / (width * _CENTRE_SIGMA)
    return np.asarray(np.exp(-(dy**2 + dx**2) / 2))


def colour_shares(image: Image.Image) -> list[ColourShare]:
    """Every named colour of the item with its (centre-weighted) share, largest first.

    Grey's share is discounted, so the shares of an item need not sum to one."""
    small = image.convert("RGB")
    small.thumbnail((_WORK_SIDE, _WORK_SIDE), Image.Resampling.BILINEAR)
    lab = srgb_to_lab(np.asarray(small))
    item = ~background_mask(lab)
    if item.mean() < _MIN_ITEM_SHARE:
        item = np.ones_like(item)
    weights = _centre_weights(*item.shape)[item]
    counts = np.bincount(name_pixels(lab[item]), weights=weights, minlength=len(_NAMES))
    shares = counts / max(float(counts.sum()), 1e-12)
    shares[_NAMES.index("grey")] *= _GREY_WEIGHT
    order = np.argsort(-shares, kind="stable")
    return [ColourShare(_NAMES[i], float(shares[i])) for i in order if shares[i] > 0]


def dominant_colours(
    image: Image.Image, max_colours: int = 3, min_share: float = 0.2
) -> tuple[str, ...]:
    """Names of the item's main colours, largest share first; always at least one."""
    shares = colour_shares(image)
    names = [s.name for s in shares[:max_colours] if s.share >= min_share]
    return tuple(names) if names else (shares[0].name,)
