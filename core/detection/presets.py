"""Which classes the detector keeps: named presets, a per-deployment override, and the check
that the loaded model can actually produce them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.errors import ModelError

# everyday objects a COCO model finds in catalogue and street photos
COCO7 = ("person", "car", "cell phone", "laptop", "book", "handbag", "sports ball")
# the clothing detector's classes (datasets/fashion-detection), once it is trained
FASHION = ("sunglass", "hat", "jacket", "shirt", "pants", "shorts", "skirt", "dress", "bag", "shoe")

PRESETS: dict[str, tuple[str, ...] | None] = {"coco7": COCO7, "fashion": FASHION, "all": None}


def normalise_class_name(name: str) -> str:
    """`Cell_Phone`, `cell-phone` and ` cell phone ` all name the same class."""
    return " ".join(name.replace("_", " ").replace("-", " ").lower().split())


def resolve_class_ids(
    model_names: Mapping[int, str], preset: str, classes: Sequence[str] | None = None
) -> list[int] | None:
    """Class ids to keep, in the model's order, or None for every class.

    `classes` overrides the preset. A name the model does not have is a configuration error
    (a typo, or a preset meant for another model), so it raises rather than finding nothing.
    """
    if classes:
        wanted: tuple[str, ...] | None = tuple(classes)
        source = f"classes {list(classes)}"
    elif preset in PRESETS:
        wanted = PRESETS[preset]
        source = f"preset {preset!r}"
    else:
        raise ModelError(f"unknown detector preset {preset!r}; choose one of {sorted(PRESETS)}")
    if wanted is None:
        return None
    ids_by_name = {normalise_class_name(name): i for i, name in model_names.items()}
    missing = [name for name in wanted if normalise_class_name(name) not in ids_by_name]
    if missing:
        raise ModelError(
            f"{source} names classes the detector model does not have: {missing}. "
            f"The model has: {list(model_names.values())}"
        )
    return sorted({ids_by_name[normalise_class_name(name)] for name in wanted})
