"""The written class → catalog articleType mapping of the real-photo datasets.

fashion-detection (street photos, boxes) and clothing-small (single-garment photos) name their
classes differently from the catalog's `articleType`; a class maps to the set of articleTypes
a search for it should return. The same table scores "street crop → catalog" retrieval (a hit is
a catalog item whose articleType is in the query class's set) and labels the real photos when
they train the image head. `PHRASES` words each class the way a shopper would, for text prompts.
"""

from __future__ import annotations

SHOES = frozenset(
    {
        "Casual Shoes",
        "Formal Shoes",
        "Sports Shoes",
        "Heels",
        "Flats",
        "Sandals",
        "Sports Sandals",
        "Flip Flops",
    }
)
BAGS = frozenset(
    {
        "Handbags",
        "Backpacks",
        "Clutches",
        "Duffel Bag",
        "Laptop Bag",
        "Messenger Bag",
        "Mobile Pouch",
        "Rucksacks",
        "Waist Pouch",
    }
)
PANTS = frozenset(
    {
        "Jeans",
        "Trousers",
        "Track Pants",
        "Leggings",
        "Capris",
        "Churidar",
        "Lounge Pants",
        "Tights",
        "Tracksuits",
    }
)
SHORTS = frozenset({"Shorts", "Lounge Shorts"})
HATS = frozenset({"Caps", "Hat"})
OUTERWEAR = frozenset({"Jackets", "Sweaters", "Sweatshirts", "Waistcoat", "Shrug"})
TOPS = frozenset({"Shirts", "Tshirts", "Tops", "Tunics", "Kurtis", "Kurtas"})

DETECTION_TYPES: dict[str, frozenset[str]] = {
    "sunglass": frozenset({"Sunglasses"}),
    "hat": HATS,
    "jacket": OUTERWEAR,
    "shirt": TOPS,  # the street dataset's "shirt" is any upper-body garment under a jacket
    "pants": PANTS,
    "shorts": SHORTS,
    "skirt": frozenset({"Skirts"}),
    "dress": frozenset({"Dresses"}),
    "bag": BAGS,
    "shoe": SHOES,
}

CLOTHING_TYPES: dict[str, frozenset[str]] = {
    "dress": frozenset({"Dresses"}),
    "hat": HATS,
    "longsleeve": frozenset({"Tshirts", "Tops", "Sweatshirts", "Sweaters"}),
    "outwear": OUTERWEAR,
    "pants": PANTS,
    "shirt": frozenset({"Shirts"}),
    "shoes": SHOES,
    "shorts": SHORTS,
    "skirt": frozenset({"Skirts"}),
    "t-shirt": frozenset({"Tshirts", "Tops"}),
}

TYPES: dict[str, dict[str, frozenset[str]]] = {
    "fashion-detection": DETECTION_TYPES,
    "clothing-small": CLOTHING_TYPES,
}

DETECTION_PHRASES: dict[str, str] = {
    "sunglass": "sunglasses",
    "shirt": "top",
    "shoe": "shoes",
}
CLOTHING_PHRASES: dict[str, str] = {
    "longsleeve": "long sleeve top",
    "outwear": "jacket",
}
PHRASES: dict[str, dict[str, str]] = {
    "fashion-detection": DETECTION_PHRASES,
    "clothing-small": CLOTHING_PHRASES,
}


def phrase(source: str, label: str) -> str:
    """How a shopper words class `label` of dataset `source` (else the class name itself)."""
    return PHRASES.get(source, {}).get(label, label)
