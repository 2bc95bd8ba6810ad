"""`catalens train embedder|detector`: train a model, print its metrics, track it in MLflow."""

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

    from catalens.training.aligned.fit import FitParams
    from catalens.training.aligned.train import TrainConfig, train_aligned

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


def detector(
    data: Path = typer.Option(
        None,
        "--data",
        help="YOLO data.yaml or its folder (e.g. ../shared/datasets/fashion-detection).",
    ),
    out: Path | None = typer.Option(None, "--out", help="Runs folder; default <data dir>/runs."),
    name: str = typer.Option("detector", "--name", help="Run folder name under --out."),
    model: str = typer.Option(
        "yolov8n.yaml", "--model", help="Architecture yaml (random init) or a .pt to fine-tune."
    ),
    epochs: int = typer.Option(1, "--epochs", min=1),
    imgsz: int = typer.Option(320, "--imgsz", min=32),
    batch: int = typer.Option(8, "--batch", min=1),
    limit: int | None = typer.Option(
        None, "--limit", min=4, help="Only the first N train images and N/4 val images."
    ),
    device: str = typer.Option("cpu", "--device", help="cpu, or a CUDA index such as 0."),
    workers: int = typer.Option(0, "--workers", min=0, help="Dataloader worker processes."),
    hours: float | None = typer.Option(
        None, "--hours", help="Wall-clock budget; ultralytics fits the epochs into it."
    ),
    extra: list[str] = typer.Option(
        [], "--arg", help="Another ultralytics train argument, KEY=VALUE (repeatable): cos_lr=true"
    ),
    track: bool = typer.Option(
        True, "--track/--no-track", help="Log to MLflow and register the best weights."
    ),
    mlflow_uri: str | None = typer.Option(None, "--mlflow-uri", help="Default: settings."),
    registered: str = typer.Option(
        "fashion-detector", "--register", help="Registered model name for the best weights."
    ),
    alias: str = typer.Option("candidate", "--alias", help="Alias the new version gets."),
    log_existing: Path | None = typer.Option(
        None, "--log-existing", help="Do not train: log and register a finished run folder."
    ),
) -> None:
    """Train an ultralytics YOLO detector; per-epoch metrics, curves and the best weights go to
    MLflow and the weights become a registered version with an alias (@candidate)."""
    from rich.console import Console

    from catalens.mlops.detector_training import DetectorTrainConfig, load_trained, train_detector
    from core.paths import default_data_dir

    if log_existing is not None:
        result = load_trained(log_existing)
    elif data is None:
        raise typer.BadParameter("give --data (or --log-existing RUN_DIR)")
    else:
        config = DetectorTrainConfig(
            data=data,
            out=out or default_data_dir() / "runs",
            name=name,
            model=model,
            epochs=epochs,
            imgsz=imgsz,
            batch=batch,
            limit=limit,
            device=device,
            workers=workers,
            hours=hours,
            extra=_key_values(extra),
        )
        result = train_detector(config)
    console = Console()
    console.print_json(data={k: round(v, 4) for k, v in result.metrics.items()})
    console.print(f"run folder: {result.run_dir} ({result.seconds:.0f} s)")
    if not track:
        return
    try:
        import mlflow  # noqa: F401  (the `mlops` extra)
    except ModuleNotFoundError:
        console.print(
            f"mlflow is not installed: not tracked; later: --log-existing {result.run_dir}"
        )
        return
    from catalens.mlops.tracking import log_detector_run

    logged = log_detector_run(result, uri=mlflow_uri, registered=registered, alias=alias)
    console.print(f"MLflow run {logged.run_id}: {registered} version {logged.version} @{alias}")


def _key_values(pairs: list[str]) -> dict[str, object]:
    """`["cos_lr=true", "lr0=0.002"]` -> `{"cos_lr": True, "lr0": 0.002}` (values read as YAML)."""
    import yaml

    if bad := [pair for pair in pairs if "=" not in pair]:
        raise typer.BadParameter(f"expected KEY=VALUE, got {bad}", param_hint="--arg")
    return {k.strip(): yaml.safe_load(v) for k, v in (pair.split("=", 1) for pair in pairs)}


def register(app: typer.Typer) -> None:
    train = typer.Typer(help="Train catalens models.", no_args_is_help=True)
    train.command("embedder")(embedder)
    train.command("detector")(detector)
    app.add_typer(train, name="train")
