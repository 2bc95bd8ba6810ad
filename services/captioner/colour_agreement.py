"""Measure how often the offline colour names agree with a catalog's labelled base colour.

    python -m services.captioner.colour_agreement [--n 200] [--seed 7] [--skip 0]

Reads `fashion-products/products.csv` from the shared data folder, maps its `baseColour` values
onto our palette (e.g. "Navy Blue" → navy, "Off White" → white), drops products whose colour
has no palette name (Multi, Metallic, …), samples `n` of the rest and prints two rates: the top
colour equals the label, and the label is among the named colours, beside the rate of always
answering the most common label. The colour weights were tuned on shuffled positions 1000-1300
(seed 7), so report on positions 0-199 (the defaults), which tuning never saw.
"""

from __future__ import annotations

import argparse
import csv
import random
from collections import Counter
from pathlib import Path

from core.imaging import load_image_file
from core.paths import shared_path
from services.captioner.colours import dominant_colours

BASE_COLOUR_TO_PALETTE = {
    "Black": "black",
    "White": "white",
    "Off White": "white",
    "Cream": "beige",
    "Grey": "grey",
    "Grey Melange": "grey",
    "Charcoal": "grey",
    "Silver": "grey",
    "Steel": "grey",
    "Red": "red",
    "Maroon": "maroon",
    "Burgundy": "maroon",
    "Rust": "orange",
    "Orange": "orange",
    "Peach": "pink",
    "Yellow": "yellow",
    "Mustard": "yellow",
    "Gold": "yellow",
    "Green": "green",
    "Fluorescent Green": "green",
    "Sea Green": "green",
    "Olive": "olive",
    "Teal": "teal",
    "Turquoise Blue": "teal",
    "Blue": "blue",
    "Navy Blue": "navy",
    "Purple": "purple",
    "Lavender": "purple",
    "Mauve": "purple",
    "Pink": "pink",
    "Magenta": "pink",
    "Brown": "brown",
    "Coffee Brown": "brown",
    "Bronze": "brown",
    "Copper": "brown",
    "Tan": "beige",
    "Khaki": "beige",
    "Beige": "beige",
    "Taupe": "beige",
    "Nude": "beige",
    "Skin": "beige",
}


def labelled_products(folder: Path) -> list[tuple[Path, str]]:
    with (folder / "products.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        (folder / row["image"], BASE_COLOUR_TO_PALETTE[row["baseColour"]])
        for row in rows
        if row["baseColour"] in BASE_COLOUR_TO_PALETTE and (folder / row["image"]).exists()
    ]


def agreement(items: list[tuple[Path, str]]) -> tuple[float, float]:
    top = anywhere = 0
    for path, expected in items:
        names = dominant_colours(load_image_file(path))
        top += names[0] == expected
        anywhere += expected in names
    return top / len(items), anywhere / len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip", type=int, default=0, help="skip this many sampled first")
    args = parser.parse_args()
    folder = shared_path("datasets", "fashion-products")
    if folder is None:
        raise SystemExit("fashion-products not found under the shared data folder")
    items = labelled_products(folder)
    random.Random(args.seed).shuffle(items)
    sample = items[args.skip : args.skip + args.n]
    top, anywhere = agreement(sample)
    print(f"{len(sample)} products: top colour agrees {top:.1%}, ", end="")
    print(f"label among colours {anywhere:.1%}")
    common, count = Counter(label for _, label in sample).most_common(1)[0]
    print(f"baseline, always '{common}': {count / len(sample):.1%}")


if __name__ == "__main__":
    main()
