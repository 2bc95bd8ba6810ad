"""`catalens data coco-subset|check`: versioned class subsets and quality checks of datasets."""

from __future__ import annotations

from pathlib import Path

import typer

from catalens.datasets.subset import DEFAULT_CLASSES


def _floats(text: str) -> tuple[float, float, float]:
    values = tuple(float(part) for part in text.split(","))
    if len(values) != 3:
        raise typer.BadParameter("give three shares: train,val,test")
    return values  # type: ignore[return-value]


def coco_subset(
    src: Path = typer.Argument(..., help="COCO instances .json, or a YOLO dataset folder"),
    out: Path = typer.Option(..., "--out", help="datasets folder; writes <out>/<version>/"),
    classes: str = typer.Option(",".join(DEFAULT_CLASSES), "--classes", help="names to keep"),
    split: str = typer.Option("0.8,0.1,0.1", "--split", help="train,val,test shares"),
    seed: int = typer.Option(0, "--seed", help="fixes which split each image goes to"),
    version: str = typer.Option("v1", "--version", help="sub-folder name; never overwritten"),
    background: float = typer.Option(
        0.0, "--background", help="share of images with no kept box to keep (default drop all)"
    ),
    images: Path | None = typer.Option(None, "--images", help="COCO: the images folder"),
    names: Path | None = typer.Option(None, "--names", help="YOLO: class names, one a line"),
) -> None:
    """Extract a class subset into a versioned YOLO dataset with train/val/test splits."""
    from catalens.datasets.sources import open_source
    from catalens.datasets.subset import SubsetOptions, write_subset

    wanted = tuple(name.strip() for name in classes.split(",") if name.strip())
    options = SubsetOptions(wanted, _floats(split), seed, version, background)
    try:
        target = write_subset(open_source(src, images, names), out, options)
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo((target / "manifest.json").read_text())
    typer.echo(str(target / "data.yaml"))


def check(
    dataset: Path = typer.Argument(..., help="YOLO dataset folder or its data.yaml"),
    out: Path | None = typer.Option(None, "--out", help="report folder (chart + report.json)"),
    names: Path | None = typer.Option(None, "--names", help="class names, one a line"),
) -> None:
    """Find defects in a YOLO dataset; exit 1 when there are any."""
    from rich.console import Console

    from catalens.datasets.check import check_dataset
    from catalens.datasets.check_report import print_report, write_report_files
    from catalens.datasets.yolo import class_names, coco80_names_file

    if names is None and class_names(dataset) is None:
        names = coco80_names_file()  # coco128 has no data.yaml
    report = check_dataset(dataset, names)
    print_report(report, Console())
    if out is not None:
        for path in write_report_files(report, out):
            typer.echo(str(path))
    if report.defect_count:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(
        help="Training data: class subsets and quality checks.", no_args_is_help=True
    )
    data_app.command("coco-subset")(coco_subset)
    data_app.command("check")(check)
    app.add_typer(data_app, name="data")
