"""Show a `CheckReport`: rich tables on the terminal, a class-count bar chart and report.json."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from catalens.datasets.check import CheckReport

MAX_LISTED = 20  # findings listed per kind; the rest are counted


def class_label(report: CheckReport, class_id: int) -> str:
    return report.names[class_id] if 0 <= class_id < len(report.names) else f"#{class_id}"


def print_report(report: CheckReport, console: Console) -> None:
    balance = Table(title=f"Class balance ({report.images} images)")
    balance.add_column("id", justify="right")
    balance.add_column("class")
    balance.add_column("boxes", justify="right")
    balance.add_column("share", justify="right")
    total = sum(report.class_counts.values()) or 1
    for class_id in range(len(report.names)):
        count = report.class_counts[class_id]
        balance.add_row(str(class_id), report.names[class_id], str(count), f"{count / total:.1%}")
    console.print(balance)
    defects = Table(title="Defects")
    defects.add_column("check")
    defects.add_column("found", justify="right")
    for kind, count in report.defects_by_kind().items():
        defects.add_row(kind, f"[red]{count}[/red]" if count else "0")
    defects.add_row(
        "[dim]empty label files (background, not a defect)[/dim]", str(report.empty_label_files)
    )
    console.print(defects)
    listed: dict[str, int] = {}
    for finding in report.findings:
        listed[finding.kind] = listed.get(finding.kind, 0) + 1
        if listed[finding.kind] <= MAX_LISTED:
            console.print(
                f"{finding.kind}: {finding.path} {finding.detail}".rstrip(),
                markup=False,
                soft_wrap=True,
            )
    for kind, count in listed.items():
        if count > MAX_LISTED:
            console.print(f"{kind}: … and {count - MAX_LISTED} more (see report.json)")


def write_report_files(report: CheckReport, out: Path) -> list[Path]:
    """Write `class_counts.png` and `report.json` into `out`; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    chart, summary = out / "class_counts.png", out / "report.json"
    plot_class_counts(report, chart)
    summary.write_text(
        json.dumps(
            {
                "images": report.images,
                "empty_label_files": report.empty_label_files,
                "class_counts": {
                    class_label(report, k): v for k, v in sorted(report.class_counts.items())
                },
                "defects": report.defects_by_kind(),
                "findings": [
                    {"kind": f.kind, "path": str(f.path), "detail": f.detail}
                    for f in report.findings
                ],
            },
            indent=2,
        )
        + "\n"
    )
    return [chart, summary]


def plot_class_counts(report: CheckReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids = list(range(len(report.names))) or sorted(report.class_counts)
    labels = [class_label(report, class_id) for class_id in ids]
    counts = [report.class_counts[class_id] for class_id in ids]
    figure, axes = plt.subplots(figsize=(8, 1.5 + 0.25 * max(len(ids), 4)))
    bars = axes.barh(labels, counts, color="#4c72b0")
    axes.bar_label(bars, padding=2, fontsize=8)
    axes.invert_yaxis()  # class 0 on top
    axes.margins(y=0.01)
    axes.set_xlabel("boxes")
    axes.set_title(f"Boxes per class ({sum(counts)} boxes, {report.images} images)")
    axes.tick_params(axis="y", labelsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
