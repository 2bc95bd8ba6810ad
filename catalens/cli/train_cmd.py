"""`catalens train embedder`: train the aligned text↔image heads and print held-out metrics."""

from __future__ import annotations

from pathlib import Path

import typer

METRIC_LABELS = {
    "t2i_r1": "text→image R@1",
    "t2i_r5": "text→image R@5",
    "t2i_r10": "text→image R@10",
    "i2i_type_p10": "image→image same-type P@10",
    "zeroshot_type_acc": "zero-shot articleType accuracy",
    "zeroshot_colour_acc": "zero-shot colour accuracy",
    "gallery_size": "held-out gallery size",
    "train_items": "training items",
    "train_seconds": "wall time (s)",
}


def embedder(
    data: Path = typer.Option(
        ..., "--data", help="Folder with products.csv and images/ (e.g. shared fashion-products)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Artifact root; default <data dir>/models/aligned."
    ),
    image_tower: str = typer.Option(
        "lite0", "--image-tower", help="Locked ImageNet tower: lite0, lite1 or lite2."
    ),
    epochs: int = typer.Option(30, "--epochs", min=1, help="Passes over the cached features."),
    limit: int | None = typer.Option(
        None, "--limit", min=10, help="Train on a deterministic subset of this many products."
    ),
    holdout: int = typer.Option(
        1000, "--holdout", min=1, help="Held-out gallery size; never trained on."
    ),
    flip: bool = typer.Option(
        False, "--flip/--no-flip", help="Also use mirrored images (augmentation + test-time mean)."
    ),
    mlflow_uri: str | None = typer.Option(
        None,
        "--mlflow-uri",
        help="MLflow tracking URI; default $MLFLOW_TRACKING_URI or sqlite:///<data_dir>/mlflow.db.",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the held-out split and the training."),
) -> None:
    """Train projection heads over locked EfficientNet-Lite + MiniLM towers (CLIP-style)."""
    from rich.console import Console
    from rich.table import Table

    from services.embedder.aligned.fit import FitParams
    from services.embedder.aligned.train import TrainConfig, train_aligned

    if limit is not None:
        holdout = min(holdout, max(1, limit // 3))
    config = TrainConfig(
        data=data,
        out_dir=out,
        image_tower=image_tower,
        flip_views=flip,
        limit=limit,
        holdout=holdout,
        seed=seed,
        fit=FitParams(epochs=epochs, seed=seed),
        mlflow_uri=mlflow_uri,
    )
    result = train_aligned(config)
    table = Table(title=f"held-out metrics — {result.artifact_path}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.metrics.items():
        table.add_row(METRIC_LABELS.get(key, key), f"{value:.3f}" if value < 1.5 else f"{value:g}")
    console = Console()
    console.print(table)
    console.print(f"MLflow run: {result.run_id or 'not tracked (mlflow not installed)'}")


def register(app: typer.Typer) -> None:
    train = typer.Typer(help="Train catalens models.", no_args_is_help=True)
    train.command("embedder")(embedder)
    app.add_typer(train, name="train")
