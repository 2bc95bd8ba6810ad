"""The FAISS GPU path, chosen by a device setting ("auto" | "cpu" | "cuda").

GPU build + CPU serve: the IVF template's k-means (the costly part of training) runs on the GPU
through `clustering_index`, the documented FAISS way to train an IVF index on the GPU and keep it
on the CPU; the trained template stays a plain CPU index, so shards, snapshots and searches are
the same whichever device trained it. "auto" takes the GPU when the installed faiss has GPU
support (faiss-gpu-cu12 from PyPI, or faiss-gpu from conda) and sees a device; faiss-cpu, which
the tests run on, always resolves to the CPU. Imports only faiss and numpy: the GPU machine need
not carry the settings stack to use it.
"""

from __future__ import annotations

from typing import Literal

import faiss
import numpy as np

Device = Literal["auto", "cpu", "cuda"]
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


class GpuUnavailableError(ValueError):
    """device "cuda" was asked for where FAISS cannot use a GPU."""


def has_gpu_support() -> bool:
    """True when the installed faiss was built with GPU support (faiss-gpu, not faiss-cpu)."""
    return hasattr(faiss, "StandardGpuResources")


def gpu_count() -> int:
    """CUDA devices FAISS can use; 0 with faiss-cpu or when the CUDA runtime finds none."""
    if not has_gpu_support():
        return 0
    try:
        return int(faiss.get_num_gpus())
    except RuntimeError:  # no driver, or a driver older than the wheel's CUDA runtime
        return 0


def resolve_device(setting: str) -> Literal["cpu", "cuda"]:
    """The device a setting means here; "cuda" without a usable GPU raises GpuUnavailableError."""
    if setting not in DEVICES:
        raise ValueError(f"device: expected one of {', '.join(DEVICES)}, got {setting!r}")
    if setting == "cpu":
        return "cpu"
    if not has_gpu_support():
        if setting == "auto":
            return "cpu"
        raise GpuUnavailableError(
            "device 'cuda': the installed faiss has no GPU support (faiss-cpu); install "
            "faiss-gpu-cu12 from PyPI on a CUDA 12 host, or faiss-gpu from conda, in its place"
        )
    if gpu_count() == 0:
        if setting == "auto":
            return "cpu"
        raise GpuUnavailableError(
            "device 'cuda': faiss-gpu is installed but sees no CUDA device "
            "(check the driver and CUDA_VISIBLE_DEVICES)"
        )
    return "cuda"


def train_template(template: faiss.Index, sample: np.ndarray, device: str = "auto") -> faiss.Index:
    """Train the untrained IVF `template` on `sample` in place and return it, a CPU index.

    On "cuda" the coarse k-means assigns points with a GPU flat index of the template's metric;
    the rest of training (the SQ8 ranges) is cheap and stays on the CPU."""
    matrix = np.ascontiguousarray(sample, dtype=np.float32)
    if resolve_device(device) == "cpu":
        template.train(matrix)
        return template
    resources = faiss.StandardGpuResources()  # type: ignore[attr-defined]  # faiss-gpu only
    flat = faiss.IndexFlat(template.d, template.metric_type)
    on_gpu = faiss.index_cpu_to_gpu(resources, 0, flat)  # type: ignore[attr-defined]
    return train_with_clustering_index(template, matrix, on_gpu)


def train_with_clustering_index(
    template: faiss.Index, matrix: np.ndarray, clustering_index: faiss.Index
) -> faiss.Index:
    """Train `template` with its k-means assigning points through `clustering_index` (a flat index
    of the template's metric, on any device), which the template does not keep."""
    ivf = faiss.extract_index_ivf(template)
    ivf.clustering_index = clustering_index
    try:
        template.train(matrix)
    finally:
        ivf.clustering_index = None  # type: ignore[assignment]  # a kept GPU index pins memory
    return template
