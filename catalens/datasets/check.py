"""Quality checks for a YOLO dataset: missing files, bad boxes, bad class ids, duplicates.

Defects (the check fails): an image without a label file (missing or meant as background? an
empty label file says so), a label file without an image, a malformed label line, a degenerate
box (zero or negative size, or reaching outside [0, 1]), a class id outside data.yaml's names,
an unreadable image, exact duplicate images (same sha256) and near duplicates (128-bit
difference hash within Hamming distance 8). Empty label files are explicit background images:
counted, never a defect.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from catalens.datasets.image_hash import difference_hash, near_duplicate_pairs
from catalens.datasets.yolo import Box, class_names, image_folders, parse_label_line

EDGE_TOLERANCE = 1e-3  # labels written with 6 decimals may overshoot an edge by a rounding step
NEAR_DUPLICATE_DISTANCE = 8  # of 128 bits: the share that 4 of 64 is (see image_hash)

DEFECT_KINDS = (
    "image without label",
    "label without image",
    "malformed label line",
    "degenerate box",
    "class id out of range",
    "unreadable image",
    "exact duplicate",
    "near duplicate",
)


@dataclass(frozen=True)
class Finding:
    kind: str
    path: Path
    detail: str = ""
    other: Path | None = None  # the image a duplicate repeats


@dataclass
class CheckReport:
    names: list[str]
    images: int = 0
    empty_label_files: int = 0
    class_counts: Counter[int] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)

    def defects_by_kind(self) -> dict[str, int]:
        counts = Counter(finding.kind for finding in self.findings)
        return {kind: counts[kind] for kind in DEFECT_KINDS}

    @property
    def defect_count(self) -> int:
        return len(self.findings)


def check_dataset(root: Path, names_file: Path | None = None) -> CheckReport:
    report = CheckReport(names=class_names(root, names_file) or [])
    images: list[Path] = []
    for folder in image_folders(root):
        files = folder.image_files()
        stems = {image.stem for image in files}
        for label in folder.label_files():
            if label.stem not in stems:
                report.findings.append(Finding("label without image", label))
        for image in files:
            label = folder.label_for(image)
            if label.is_file():
                _check_label_file(label, report)
            else:
                report.findings.append(Finding("image without label", image))
        images.extend(files)
    report.images = len(images)
    _check_duplicates(images, report)
    return report


def box_problem(box: Box) -> str | None:
    if box.w <= 0 or box.h <= 0:
        return f"size {box.w:g}x{box.h:g}"
    low, high = -EDGE_TOLERANCE, 1 + EDGE_TOLERANCE
    edges = (box.cx - box.w / 2, box.cy - box.h / 2, box.cx + box.w / 2, box.cy + box.h / 2)
    if not all(low <= value <= high for value in (box.cx, box.cy, *edges)):
        return "outside [0, 1]"
    return None


def _check_label_file(label: Path, report: CheckReport) -> None:
    lines = [line for line in label.read_text().splitlines() if line.strip()]
    if not lines:
        report.empty_label_files += 1
    for number, line in enumerate(lines, start=1):
        try:
            box = parse_label_line(line)
        except ValueError as exc:
            report.findings.append(Finding("malformed label line", label, f"line {number}: {exc}"))
            continue
        if not 0 <= box.class_id < len(report.names):
            detail = f"line {number}: class {box.class_id} (names: {len(report.names)})"
            report.findings.append(Finding("class id out of range", label, detail))
        else:
            report.class_counts[box.class_id] += 1
        problem = box_problem(box)
        if problem:
            report.findings.append(Finding("degenerate box", label, f"line {number}: {problem}"))


def _check_duplicates(images: list[Path], report: CheckReport) -> None:
    first_with_digest: dict[str, Path] = {}
    hashed: list[tuple[Path, bytes]] = []
    for image in images:
        data = image.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest in first_with_digest:
            original = first_with_digest[digest]
            report.findings.append(Finding("exact duplicate", image, f"of {original}", original))
            continue
        first_with_digest[digest] = image
        try:
            hashed.append((image, difference_hash(data)))
        except ValueError as exc:
            report.findings.append(Finding("unreadable image", image, str(exc)))
    pairs = near_duplicate_pairs([value for _, value in hashed], NEAR_DUPLICATE_DISTANCE)
    for first, second, distance in pairs:
        original, image = hashed[first][0], hashed[second][0]
        detail = f"of {original} (distance {distance})"
        report.findings.append(Finding("near duplicate", image, detail, original))
