"""`train_aligned(config)`: features → heads → held-out metrics → versioned artifact → MLflow."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from catalens.training.aligned import dataset, realphoto
from catalens.training.aligned.evaluate import evaluate_gallery
from catalens.training.aligned.features import FeatureCache, Progress, text_features
from catalens.training.aligned.fit import FitParams, PairData, fit_heads
from catalens.training.aligned.photo_data import (
    build_photo_set,
    held_out_photos,
    load_photos,
    photo_views,
)
from catalens.training.aligned.photo_eval import photo_metrics
from catalens.training.aligned.photo_terms import PhotoTerms
from catalens.training.aligned.tracking import log_run, tracking_uri
from catalens.training.aligned.view_features import Item, view_features
from core.embedding.aligned.artifact import write_artifact
from core.embedding.aligned.heads import AlignedHeads, HeadConfig
from core.embedding.aligned.towers import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    TEXT_TOWER,
    ImageTower,
    TextTower,
    image_tower_spec,
)
from core.paths import default_data_dir


@dataclass(frozen=True)
class TrainConfig:
    data: Path  # a folder with products.csv and images/
    out_dir: Path | None = None  # default <data_dir>/models/aligned
    data_dir: Path = field(default_factory=default_data_dir)
    cache_dir: Path | None = None  # default <data_dir>/cache/aligned-features
    image_tower: str = "lite2-colour"  # the shipped model
    flip_views: bool = True  # also extract mirrored images: train augmentation + test-time mean
    limit: int | None = None  # train on a deterministic subset of this many products
    holdout: int = 1000  # held-out gallery size (never trained on)
    seed: int = 0
    # real photos for the image side (photo_terms.py): the train boxes of a YOLO street-photo
    # dataset (fashion-detection) cropped like the detector's crops, and the train photos of a
    # train/<class>/ folder (clothing-small); None = catalog shots only
    detection: Path | None = None
    clothing: Path | None = None
    hold_tune: bool = False  # also hold out the tuning splits (realphoto.py) to compare runs
    heads: HeadConfig = field(default_factory=HeadConfig)
    fit: FitParams = field(default_factory=FitParams)
    mlflow_uri: str | None = None
    progress: Progress | None = None  # (stage, done, total), e.g. for a UI progress bar


@dataclass(frozen=True)
class TrainResult:
    artifact_path: Path
    metrics: dict[str, float]
    run_id: str | None = None


def _pair_data(products: list[dataset.Product], image: np.ndarray, embed: Callable) -> PairData:  # type: ignore[type-arg]
    captions = [dataset.training_captions(p) for p in products]
    flat = [c for item in captions for c in item]
    ids = {text: i for i, text in enumerate(dict.fromkeys(c.lower() for c in flat))}
    rows, start = [], 0
    for item in captions:
        rows.append(list(range(start, start + len(item))))
        start += len(item)
    return PairData(
        image=image,
        text=embed(flat),
        caption_ids=np.asarray([ids[c.lower()] for c in flat]),
        item_captions=rows,
    )


def embed_gallery(heads: AlignedHeads, image: np.ndarray) -> np.ndarray:
    """Head outputs averaged over the cached views (test-time flip when present)."""
    with torch.inference_mode():
        views = [heads.embed_images(torch.from_numpy(image[:, v])) for v in range(image.shape[1])]
        mean = torch.stack(views).mean(0)
    return torch.nn.functional.normalize(mean, dim=-1).numpy()


def train_aligned(config: TrainConfig) -> TrainResult:
    started = time.monotonic()
    spec = image_tower_spec(config.image_tower)
    # the heads take what the tower gives (1280-d pooled, 1344-d with the colour histogram)
    config = replace(config, heads=replace(config.heads, image_in=spec.dim))
    cache = FeatureCache(config.cache_dir or config.data_dir / "cache" / "aligned-features")
    products = dataset.select_subset(dataset.load_products(config.data), config.limit, config.seed)
    train, held_out = dataset.split_holdout(products, config.holdout, config.seed)
    if config.hold_tune:
        train, _ = realphoto.tune_products(train, config.seed)
    eval_views = ("plain", "flip") if config.flip_views else ("plain",)
    tower: list[ImageTower] = []

    def load_image_tower() -> ImageTower:
        if not tower:
            tower.append(ImageTower(spec))
        return tower[0]

    image = view_features(
        [Item(p.image) for p in products],
        eval_views,
        spec.name,
        load_image_tower,
        cache,
        progress=config.progress,
    )
    index = {p.id: i for i, p in enumerate(products)}
    text_tower: list[TextTower] = []

    def load_text() -> TextTower:
        if not text_tower:
            text_tower.append(TextTower())
        return text_tower[0]

    def embed(texts: list[str]) -> np.ndarray:
        return text_features(texts, load_text, cache, progress=config.progress)

    data = _pair_data(train, image[[index[p.id] for p in train]], embed)
    extra = _photo_terms(config, train, spec.name, load_image_tower, cache, embed)
    bar = tqdm(total=config.fit.epochs, desc="training heads", unit="epoch")

    def on_epoch(epoch: int, loss: float) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}")
        if config.progress:
            config.progress("training", epoch + 1, config.fit.epochs)

    heads = fit_heads(data, config.heads, config.fit, on_epoch=on_epoch, extra=extra)
    bar.close()
    gallery = image[[index[p.id] for p in held_out]]

    def embed_texts(texts: Sequence[str]) -> np.ndarray:
        with torch.inference_mode():
            return heads.embed_texts(torch.from_numpy(load_text().features(list(texts)))).numpy()

    with torch.inference_mode():
        queries = heads.embed_texts(torch.from_numpy(embed([p.name for p in held_out]))).numpy()
    metrics = evaluate_gallery(held_out, embed_gallery(heads, gallery), queries, embed_texts)
    if config.detection or config.clothing:
        photos = held_out_photos(config.detection, config.clothing, config.hold_tune, config.seed)
        photo_image = view_features(
            [Item(p.path, p.box) for p in photos], eval_views, spec.name, load_image_tower, cache
        )
        found, _ = photo_metrics(
            photos,
            embed_gallery(heads, photo_image),
            embed_gallery(heads, image),
            [p.article_type for p in products],
            embed_texts,
        )
        metrics.update(found)
    metrics["train_items"] = float(len(train))
    metrics["train_seconds"] = round(time.monotonic() - started, 1)
    manifest = _manifest(config, spec.image_size, metrics)
    root = config.out_dir or config.data_dir / "models" / "aligned"
    path = write_artifact(root, manifest, heads.state_dict())
    params = {**_params(config), "artifact": str(path)}
    uri = tracking_uri(config.mlflow_uri, config.data_dir)
    run_id = log_run(uri, "aligned-embedder", params, metrics, path)
    return TrainResult(artifact_path=path, metrics=metrics, run_id=run_id)


def _params(config: TrainConfig) -> dict[str, object]:
    return {
        "image_tower": config.image_tower,
        "text_tower": TEXT_TOWER,
        "flip_views": config.flip_views,
        "detection": str(config.detection) if config.detection else None,
        "clothing": str(config.clothing) if config.clothing else None,
        "hold_tune": config.hold_tune,
        "limit": config.limit,
        "holdout": config.holdout,
        "seed": config.seed,
        "data": str(config.data),
        **{f"heads.{k}": v for k, v in config.heads.as_dict().items()},
        **{f"fit.{k}": v for k, v in asdict(config.fit).items()},
    }


def _manifest(config: TrainConfig, image_size: int, metrics: dict[str, float]) -> dict:  # type: ignore[type-arg]
    name = f"aligned-{config.image_tower}-minilm"
    return {
        "identity": {"backend": "aligned", "name": name, "dim": config.heads.out_dim},
        "towers": {"image": config.image_tower, "text": TEXT_TOWER},
        "preprocessing": {
            "image_size": image_size,
            "resize": "pad to square on white, bicubic",
            "mean": list(IMAGENET_MEAN),
            "std": list(IMAGENET_STD),
            "pooling": "global average of the last feature map",
            "flip_average": config.flip_views,
        },
        "heads": config.heads.as_dict(),
        "training": _params(config),
        "metrics": metrics,
    }


def _photo_terms(
    config: TrainConfig,
    train: list[dataset.Product],
    tower_name: str,
    load_image_tower: Callable[[], ImageTower],
    cache: FeatureCache,
    embed: Callable[[list[str]], np.ndarray],
) -> PhotoTerms | None:
    """The real-photo loss terms over the configured photo datasets' train photos; None when
    no photo dataset is configured."""
    if not (config.detection or config.clothing):
        return None
    photo_set = build_photo_set(
        load_photos(config.detection, config.clothing, config.hold_tune, config.seed),
        photo_views(config.flip_views),
        tower_name,
        load_image_tower,
        cache,
        embed,
        progress=config.progress,
    )
    type_names = sorted({p.article_type for p in train})
    f = config.fit
    return PhotoTerms(
        photo_set,
        np.asarray([type_names.index(p.article_type) for p in train]),
        type_names,
        f.prompt_weight,
        f.supcon_weight,
        f.photo_temperature,
        f.photo_batch,
        f.supcon_catalog_pairs,
    )
