"""Shared bench helpers: the machine a run happened on, median timing, and docs/benchmarks.md
sections that each bench replaces without touching the others'."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from core.paths import REPO_ROOT

BENCHMARKS_MD = REPO_ROOT / "docs" / "benchmarks.md"
PAGE_INTRO = (
    "# Benchmarks\n\n"
    "Each section is written by the bench named in its title (`python -m bench.<name>` from the "
    "repository root) and replaced when that bench runs again. Results are ratios against a "
    "baseline measured in the same run; absolute numbers hold only for the machine listed.\n"
)


def machine() -> dict[str, str]:
    """CPU model, cores, RAM and library versions: the context every number needs."""
    info = {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "ram": _ram(),
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load average (1 min) at start": f"{os.getloadavg()[0]:.1f}",
    }
    for module in ("torch", "ultralytics", "open_clip", "numpy"):
        try:
            info[module] = __import__(module).__version__
        except ImportError:
            continue
    try:
        import torch

        info["torch threads"] = str(torch.get_num_threads())
    except ImportError:
        pass
    return info


def machine_markdown(info: dict[str, str] | None = None) -> str:
    info = info or machine()
    return "Machine: " + "; ".join(f"{key} {value}" for key, value in info.items()) + "."


def timings(fn: Callable[[], object], repeats: int = 3, warmup: int = 1) -> list[float]:
    """Wall times of `fn()` over `repeats` runs after `warmup` unmeasured runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_seconds(fn: Callable[[], object], repeats: int = 3, warmup: int = 1) -> float:
    return statistics.median(timings(fn, repeats, warmup))


def spread(times: list[float]) -> float:
    """(max − min) / median: how far apart the repeats were (0.1 = 10 %)."""
    return (max(times) - min(times)) / statistics.median(times)


def write_section(title: str, body: str, path: Path = BENCHMARKS_MD) -> Path:
    """Replace the `## {title}` section of `path` (up to the next `## `) or append it."""
    text = path.read_text() if path.exists() else PAGE_INTRO
    lines = text.splitlines()
    heading = f"## {title}"
    new = [heading, "", *body.strip().splitlines(), ""]
    if heading in lines:
        start = lines.index(heading)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), None)
        lines[start : end if end is not None else len(lines)] = new
    else:
        lines += ["", *new] if lines and lines[-1] else new
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines).rstrip("\n") + "\n")
    return path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return "unknown"
