"""Make sure an aligned embedder exists before the embedded stack starts (the committed one by
default; the demo trains one only when that is missing)."""

from __future__ import annotations

import logging
from pathlib import Path

from tqdm import tqdm

from core.errors import ModelError
from core.paths import shared_path
from core.settings import Settings

log = logging.getLogger(__name__)
DEMO_TRAIN_PRODUCTS = 4000


def ensure_aligned_model(settings: Settings, train_limit: int = DEMO_TRAIN_PRODUCTS) -> Path:
    """The configured aligned artifact (by default the committed one, see
    `core.embedding.factory.aligned_artifact`); trains one on the shared products only when
    none is found."""
    from core.embedding.factory import aligned_artifact

    if settings.embedder.backend != "aligned":
        return Path(settings.embedder.model)
    try:
        return aligned_artifact(settings.embedder.model, settings.data_dir)
    except ModelError:
        pass
    data = shared_path("datasets", "fashion-products")
    if data is None:
        raise ModelError(
            "no aligned embedder yet and no ../shared/datasets/fashion-products to train one: "
            "run `catalens train embedder --data <products folder>` first"
        )
    log.warning("no aligned embedder yet: training one on %d products of %s", train_limit, data)
    return _train(settings, data, train_limit)


def _train(settings: Settings, data: Path, limit: int) -> Path:
    from catalens.training.aligned.train import TrainConfig, train_aligned

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=f"train: {stage}", unit="item")
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    result = train_aligned(
        TrainConfig(data=data, data_dir=settings.data_dir, limit=limit, progress=progress)
    )
    log.warning(
        "aligned embedder trained: text→image R@10 %.2f on its held-out gallery (%s)",
        result.metrics.get("t2i_r10", float("nan")),
        result.artifact_path,
    )
    return result.artifact_path
