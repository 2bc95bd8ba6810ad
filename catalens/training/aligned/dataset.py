"""Image–text pairs from a product catalog folder (`products.csv` + `images/`), a deterministic
held-out split by product id, and the captions each product trains with."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelError


@dataclass(frozen=True)
class Product:
    id: str
    image: Path
    name: str  # productDisplayName, e.g. "Wrangler Men Blue Custom Jeans"
    gender: str
    article_type: str
    colour: str


def load_products(data: str | Path) -> list[Product]:
    """Every product of `data/products.csv` whose image file exists, in file order."""
    root = Path(data)
    table = root / "products.csv"
    if not table.is_file():
        raise ModelError(f"no products.csv in {root}")
    products = []
    with table.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            image = root / row["image"]
            name = (row.get("productDisplayName") or "").strip()
            if not name or not image.is_file():
                continue
            products.append(
                Product(
                    id=row["id"],
                    image=image,
                    name=name,
                    gender=(row.get("gender") or "").strip(),
                    article_type=(row.get("articleType") or "").strip(),
                    colour=(row.get("baseColour") or "").strip(),
                )
            )
    return products


def _rank(product_id: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{product_id}".encode()).hexdigest()


def select_subset(products: list[Product], limit: int | None, seed: int) -> list[Product]:
    """A deterministic `limit`-sized subset (all when `limit` is None), chosen by hashed id."""
    if limit is None or limit >= len(products):
        return list(products)
    chosen = sorted(products, key=lambda p: _rank(p.id, seed + 1))[:limit]
    keep = {p.id for p in chosen}
    return [p for p in products if p.id in keep]


def split_holdout(
    products: list[Product], holdout: int, seed: int
) -> tuple[list[Product], list[Product]]:
    """(train, held_out): the `holdout` products with the smallest seeded id hash are held out.

    The same ids and seed give the same split on every machine and every run.
    """
    if not 0 < holdout < len(products):
        raise ValueError(f"holdout must be in 1..{len(products) - 1}, got {holdout}")
    held = {p.id for p in sorted(products, key=lambda p: _rank(p.id, seed))[:holdout]}
    train = [p for p in products if p.id not in held]
    held_out = [p for p in products if p.id in held]
    return train, held_out


def training_captions(product: Product) -> list[str]:
    """The product name first, then short attribute captions (so "blue jeans" finds jeans)."""
    colour, kind, gender = product.colour.lower(), product.article_type.lower(), product.gender
    captions = [product.name]
    if kind:
        captions.append(f"{colour} {kind}".strip())
        if gender:
            captions.append(f"{gender.lower()} {kind}")
            captions.append(f"{colour} {kind} for {gender.lower()}".strip())
    return list(dict.fromkeys(captions))
