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
    "street_catalog_p10": "street crop → catalog same-kind P@10",
    "street_catalog_macro_p10": "street crop → catalog same-kind P@10, class mean",
    "street_i2i_p10": "street crop → street crop same-class P@10",
    "street_zeroshot_acc": "street crop zero-shot class accuracy",
    "clothing_catalog_p10": "garment photo → catalog same-kind P@10",
    "clothing_catalog_macro_p10": "garment photo → catalog same-kind P@10, class mean",
    "clothing_i2i_p10": "garment photo → photo same-class P@10",
    "clothing_zeroshot_acc": "garment photo zero-shot class accuracy",
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
        "lite2-colour",
        "--image-tower",
        help="Locked ImageNet tower: lite0, lite1 or lite2; add -colour (e.g. lite2-colour) to "
        "append a 64-d colour histogram of the same input to its 1280-d features.",
    ),
    epochs: int = typer.Option(40, "--epochs", min=1, help="Passes over the cached features."),
    limit: int | None = typer.Option(
        None, "--limit", min=10, help="Train on a deterministic subset of this many products."
    ),
    holdout: int = typer.Option(
        1000, "--holdout", min=1, help="Held-out gallery size; never trained on."
    ),
    flip: bool = typer.Option(
        True, "--flip/--no-flip", help="Also use mirrored images (augmentation + test-time mean)."
    ),
    mlflow_uri: str | None = typer.Option(
        None,
        "--mlflow-uri",
        help="MLflow tracking URI; default $MLFLOW_TRACKING_URI or sqlite:///<data_dir>/mlflow.db.",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the held-out split and the training."),
    photos: bool = typer.Option(
        True,
        "--photos/--no-photos",
        help="Train the image side on real photos too: fashion-detection train boxes and "
        "clothing-small train photos (../shared/datasets, or --detection / --clothing).",
    ),
    detection: Path | None = typer.Option(
        None, "--detection", help="YOLO street-photo dataset; its train boxes become crops."
    ),
    clothing: Path | None = typer.Option(
        None, "--clothing", help="Folder with train/<class>/ photos (clothing-small)."
    ),
    prompt_weight: float = typer.Option(
        0.5, "--prompt-weight", min=0.0, help="Weight of the real photo ↔ class prompt term."
    ),
    supcon_weight: float = typer.Option(
        0.5, "--supcon-weight", min=0.0, help="Weight of the supervised-contrastive term."
    ),
    catalog_pairs: bool = typer.Option(
        False,
        "--catalog-pairs/--no-catalog-pairs",
        help="The supervised-contrastive term also pairs catalog items of one articleType.",
    ),
    hidden: int = typer.Option(2048, "--hidden", min=1, help="Hidden width of the head MLPs."),
    hold_tune: bool = typer.Option(
        False, "--hold-tune", help="Also hold out the tuning splits (to compare candidates)."
    ),
) -> None:
    """Train projection heads over locked EfficientNet-Lite + MiniLM towers (CLIP-style)."""
    from rich.console import Console
    from rich.table import Table

    from catalens.training.aligned.fit import FitParams
    from catalens.training.aligned.train import TrainConfig, train_aligned
    from core.embedding.aligned.heads import HeadConfig
    from core.paths import shared_path

    if limit is not None:
        holdout = min(holdout, max(1, limit // 3))
    if photos:
        detection = detection or shared_path("datasets", "fashion-detection")
        clothing = clothing or shared_path("datasets", "clothing-small")
    else:
        detection = clothing = None
    config = TrainConfig(
        data=data,
        out_dir=out,
        image_tower=image_tower,
        flip_views=flip,
        limit=limit,
        holdout=holdout,
        seed=seed,
        detection=detection,
        clothing=clothing,
        hold_tune=hold_tune,
        heads=HeadConfig(hidden=hidden),
        fit=FitParams(
            epochs=epochs,
            seed=seed,
            prompt_weight=prompt_weight,
            supcon_weight=supcon_weight,
            supcon_catalog_pairs=catalog_pairs,
        ),
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
