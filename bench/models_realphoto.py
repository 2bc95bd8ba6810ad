"""Real-photo retrieval quality: raw image-tower features vs aligned artifacts, in one run.

Run from the repository root:
    python -m bench.models_realphoto --split val --artifact NAME=PATH [--artifact ...]
        [--cache DIR] [--docs docs/benchmarks.md] [--out results.md]

Metrics (all on data the artifacts never trained on when --split val; see realphoto_data):
- street→catalog P@10: fashion-detection boxes cut by the detector's crop policy, searched among
  all catalog product photos; a hit is a product whose articleType is in the crop class's set
  (catalens/training/aligned/categories.py). Micro (over crops) and macro (over classes).
- clothing i2i P@10: clothing-small photos, share of the 10 nearest other photos of their class.
- clothing→catalog P@10: clothing-small photos searched among catalog products, as above.
- zero-shot: class by the nearest prompt "a photo of a <class phrase>" (street crops, clothing).
- text→image R@1/R@10: product names against the held-out product photos.
- catalog i2i P@10: held-out products, same articleType among the 10 nearest.
Raw tower features have no text side: their text metrics are n/a.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from bench.common import machine_markdown, write_section
from bench.realphoto_data import EvalSets, Features, eval_sets
from catalens.training.aligned.evaluate import recall_at, same_label_precision_at
from catalens.training.aligned.photo_eval import photo_metrics
from core.paths import REPO_ROOT, default_data_dir

SECTION = "Real-photo retrieval (bench/models_realphoto.py)"
DOCS = REPO_ROOT / "docs" / "benchmarks.md"  # docs/models.md quotes its table
COLUMNS = (
    ("street_catalog_p10", "street→catalog P@10"),
    ("street_catalog_macro_p10", "street→catalog macro P@10"),
    ("clothing_i2i_p10", "clothing i2i P@10"),
    ("clothing_catalog_p10", "clothing→catalog P@10"),
    ("street_zeroshot_acc", "street zero-shot acc"),
    ("clothing_zeroshot_acc", "clothing zero-shot acc"),
    ("t2i_r1", "text→image R@1"),
    ("t2i_r10", "text→image R@10"),
    ("catalog_i2i_p10", "catalog i2i P@10"),
)
ImageSpace = Callable[[np.ndarray], np.ndarray]  # (n, views, d) tower features → unit vectors
TextSpace = Callable[[Sequence[str]], np.ndarray] | None


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True).clip(min=1e-12)


def evaluate(
    sets: EvalSets, features: Features, views: tuple[str, ...], image: ImageSpace, text: TextSpace
) -> tuple[dict[str, float], dict[str, float]]:
    catalog = image(features.products(sets.catalog, views))
    photos = sets.street + sets.clothing
    metrics, per_class = photo_metrics(
        photos,
        image(features.photos(photos, views)),
        catalog,
        [p.article_type for p in sets.catalog],
        text,
    )
    index = {p.id: i for i, p in enumerate(sets.catalog)}
    gallery = catalog[[index[p.id] for p in sets.text_gallery]]
    kinds = [p.article_type for p in sets.text_gallery]
    metrics["catalog_i2i_p10"] = same_label_precision_at(gallery, kinds, 10)
    if text is not None:
        recalls = recall_at(text([p.name for p in sets.text_gallery]) @ gallery.T, (1, 10))
        metrics["t2i_r1"], metrics["t2i_r10"] = recalls[1], recalls[10]
    return metrics, per_class


def raw_space(features: np.ndarray) -> np.ndarray:
    return _unit(_unit(features).mean(axis=1))


def artifact_spaces(
    path: Path, features: Features
) -> tuple[ImageSpace, TextSpace, tuple[str, ...]]:
    import torch

    from catalens.training.aligned.features import text_features
    from catalens.training.aligned.train import embed_gallery
    from core.embedding.aligned.artifact import read_artifact
    from core.embedding.aligned.heads import AlignedHeads, HeadConfig
    from core.embedding.aligned.towers import TextTower

    artifact = read_artifact(path)
    manifest = artifact.manifest
    if manifest["towers"]["image"] != features.tower:
        raise SystemExit(f"{path}: image tower {manifest['towers']['image']} != {features.tower}")
    heads = AlignedHeads(HeadConfig(**manifest["heads"]))
    heads.load_state_dict(artifact.state)
    heads.eval()
    views = ("plain", "flip") if manifest["preprocessing"].get("flip_average") else ("plain",)
    towers: list[TextTower] = []

    def load_text() -> TextTower:
        if not towers:
            towers.append(TextTower())
        return towers[0]

    def text(texts: Sequence[str]) -> np.ndarray:
        vectors = text_features(list(texts), load_text, features.cache)
        with torch.inference_mode():
            return heads.embed_texts(torch.from_numpy(vectors)).numpy()

    return (lambda f: embed_gallery(heads, f)), text, views


def table(rows: list[tuple[str, dict[str, float]]]) -> str:
    head = "| model | " + " | ".join(label for _, label in COLUMNS) + " |"
    lines = [head, "|---" * (len(COLUMNS) + 1) + "|"]
    for name, metrics in rows:
        cells = [f"{metrics[key]:.3f}" if key in metrics else "n/a" for key, _ in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="val", choices=("val", "tune"))
    parser.add_argument("--tower", default="lite2-colour", help="image tower of every artifact")
    parser.add_argument("--artifact", action="append", default=[], help="NAME=PATH")
    parser.add_argument(
        "--cache", type=Path, default=None, help="feature cache (default: the training cache)"
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    parser.add_argument("--docs", type=Path, default=DOCS, help="markdown page of the section")
    parser.add_argument("--section", default=SECTION, help="the --docs section to (re)write")
    parser.add_argument("--no-docs", action="store_true", help="do not write --docs")
    parser.add_argument("--no-raw", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    sets = eval_sets(args.split)
    features = Features(args.tower, args.cache or default_data_dir() / "cache" / "aligned-features")
    rows: list[tuple[str, dict[str, float]]] = []
    details: list[str] = []
    candidates: list[tuple[str, Path | None]] = []
    if not args.no_raw:
        candidates.append((f"raw {args.tower} features", None))
    candidates += [(spec.split("=", 1)[0], Path(spec.split("=", 1)[1])) for spec in args.artifact]
    for name, path in candidates:
        if path is None:
            metrics, per_class = evaluate(sets, features, ("plain",), raw_space, None)
        else:
            image, text, views = artifact_spaces(path, features)
            metrics, per_class = evaluate(sets, features, views, image, text)
        rows.append((name, metrics))
        details.append(f"- {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in per_class.items()))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    body = "\n".join(
        [
            f"Split `{args.split}`: {len(sets.street)} street crops, {len(sets.clothing)} "
            f"clothing photos, {len(sets.text_gallery)} held-out products, catalog of "
            f"{len(sets.catalog)}. Tower {args.tower}. {time.monotonic() - started:.0f} s.",
            "",
            "Command: `python -m bench.models_realphoto "
            + " ".join(shlex.quote(a) for a in sys.argv[1:])
            + "`",
            "",
            table(rows),
            "",
            "Street→catalog P@10 per class:",
            *details,
            "",
            machine_markdown(),
        ]
    )
    print(body)
    if not args.no_docs:
        print(f"wrote {write_section(args.section, body, args.docs)}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(body + "\n")


if __name__ == "__main__":
    main()
