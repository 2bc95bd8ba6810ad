"""`catalens evaluate detector` and `catalens promote`: the registry side of the model lifecycle."""

from __future__ import annotations

from pathlib import Path

import typer


def evaluate_detector(
    reference: str = typer.Argument(
        ..., help="Weights path or registry reference, e.g. models:/fashion-detector@candidate."
    ),
    data: Path = typer.Option(..., "--data", help="YOLO data.yaml or its folder."),
    split: str = typer.Option("val", "--split", help="Split named in data.yaml: val, test, train."),
    imgsz: int = typer.Option(320, "--imgsz", min=32),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N images."),
    device: str = typer.Option("cpu", "--device"),
    mlflow_uri: str | None = typer.Option(None, "--mlflow-uri", help="Default: settings."),
) -> None:
    """Precision, recall, mAP50 and mAP50-95 per class on a split, logged to MLflow (and as
    `eval.<split>.*` tags on a registered version, which `catalens promote` compares)."""
    from rich.console import Console
    from rich.table import Table

    from catalens.mlops.detector_eval import evaluate_reference

    result = evaluate_reference(reference, data, split, imgsz, limit, device, mlflow_uri)
    title = f"{reference} on {split} ({result.images} images), MLflow run {result.run_id}"
    table = Table(title=title)
    for column in ("class", "precision", "recall", "mAP50", "mAP50-95"):
        table.add_column(column, justify="left" if column == "class" else "right")
    classes = ["all", *sorted({k.split(".", 1)[1] for k in result.metrics if "." in k})]
    for label in classes:
        suffix = "" if label == "all" else f".{label}"
        keys = ("precision", "recall", "map50", "map50_95")
        table.add_row(label, *(f"{result.metrics.get(k + suffix, 0.0):.3f}" for k in keys))
    Console().print(table)


def promote(
    name: str = typer.Argument("fashion-detector", help="Registered model name."),
    metric: str = typer.Option(
        "map50_95",
        "--metric",
        help="Detector: map50_95, map50, precision, recall; embedder: t2i_r10…",
    ),
    split: str = typer.Option(
        "val", "--split", help="The split both versions were evaluated on (embedder: heldout)."
    ),
    min_delta: float = typer.Option(0.0, "--min-delta", help="Required margin over production."),
    candidate: str = typer.Option("candidate", "--candidate-alias"),
    production: str = typer.Option("production", "--production-alias"),
    mlflow_uri: str | None = typer.Option(None, "--mlflow-uri", help="Default: settings."),
) -> None:
    """Point @production at @candidate when the candidate's evaluation is better."""
    from catalens.mlops.promote import promote as run_promotion

    decision = run_promotion(name, metric, split, min_delta, candidate, production, mlflow_uri)
    verb = "promoted" if decision.promote else "kept"
    moved = f"version {decision.candidate_version}" if decision.promote else "production"
    typer.echo(f"{verb} {moved} of {name} at @{production}: {decision.reason}")
    if not decision.promote:
        raise typer.Exit(3)


def register(app: typer.Typer) -> None:
    evaluate = typer.Typer(help="Evaluate models on labelled data.", no_args_is_help=True)
    evaluate.command("detector")(evaluate_detector)
    app.add_typer(evaluate, name="evaluate")
    app.command("promote")(promote)
