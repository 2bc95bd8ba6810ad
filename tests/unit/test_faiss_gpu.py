"""The FAISS device setting: what "auto"/"cpu"/"cuda" resolve to, and IVF training on each device.

The CPU tests run everywhere; the GPU test runs only where faiss-gpu sees a device."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from core.index.faiss_gpu import (
    GpuUnavailableError,
    gpu_count,
    has_gpu_support,
    resolve_device,
    train_template,
    train_with_clustering_index,
)
from core.index.faiss_params import FaissParams, new_ivf, new_ivf_template
from core.index.faiss_shards import ShardedFaissIndex

DIM, N, NLIST = 64, 5000, 32
needs_faiss_cpu = pytest.mark.skipif(has_gpu_support(), reason="faiss here has GPU support")
needs_gpu = pytest.mark.skipif(gpu_count() == 0, reason="no GPU-enabled faiss with a CUDA device")


def vectors(n: int = N, seed: int = 0) -> np.ndarray:
    """Unit vectors around 100 centres, the way real embeddings bunch up."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((100, DIM))
    rows = centres[rng.integers(0, 100, n)] + 0.5 * rng.standard_normal((n, DIM))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def exact_top(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    flat = faiss.IndexFlatIP(DIM)
    flat.add(data)
    return flat.search(queries, k)[1]


def recall_of(template: faiss.Index, data: np.ndarray, queries: np.ndarray, k: int = 10) -> float:
    """Recall@k of an IVF index on the trained `template`, every list probed, against Flat."""
    index = new_ivf(template)
    index.add_with_ids(data, np.arange(len(data), dtype=np.int64))
    params = faiss.SearchParametersIVF()
    params.nprobe = NLIST
    found = index.search(queries, k, params=params)[1]
    truth = exact_top(data, queries, k)
    return float(np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth, strict=True)]))


def centroids(template: faiss.Index) -> np.ndarray:
    return faiss.extract_index_ivf(template).quantizer.reconstruct_n(0, NLIST)


def test_cpu_is_always_cpu_and_an_unknown_device_is_refused() -> None:
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="auto, cpu, cuda"):
        resolve_device("gpu")


@needs_faiss_cpu
def test_auto_resolves_to_cpu_with_faiss_cpu() -> None:
    assert gpu_count() == 0
    assert resolve_device("auto") == "cpu"


@needs_faiss_cpu
def test_asking_for_cuda_without_gpu_support_fails_naming_faiss_gpu() -> None:
    with pytest.raises(GpuUnavailableError, match="faiss-gpu"):
        resolve_device("cuda")


@needs_faiss_cpu
def test_an_ivf_index_set_to_cuda_fails_when_it_trains_on_faiss_cpu() -> None:
    params = FaissParams(nlist=8, train_size=200, device="cuda")
    index = ShardedFaissIndex(DIM, 2, "IVF-SQ8", params)
    index.upsert([f"o{i}" for i in range(100)], vectors(100))  # below the threshold: no training
    with pytest.raises(GpuUnavailableError, match="faiss-gpu"):
        index.upsert([f"p{i}" for i in range(100)], vectors(100, seed=1))


def test_training_through_a_clustering_index_gives_the_centroids_of_plain_training() -> None:
    # the GPU path hands k-means a flat index to assign with; a CPU one must change nothing
    data = vectors()
    plain = new_ivf_template(DIM, FaissParams(nlist=NLIST))
    plain.train(data)
    through = new_ivf_template(DIM, FaissParams(nlist=NLIST))
    train_with_clustering_index(through, data, faiss.IndexFlat(DIM, through.metric_type))
    np.testing.assert_array_equal(centroids(through), centroids(plain))
    assert faiss.extract_index_ivf(through).clustering_index is None


def test_an_ivf_index_trained_on_the_auto_device_finds_what_flat_finds() -> None:
    data, queries = vectors(), vectors(200, seed=7)
    template = train_template(new_ivf_template(DIM, FaissParams(nlist=NLIST)), data, "auto")
    assert template.is_trained
    assert recall_of(template, data, queries) >= 0.9


def test_a_sharded_ivf_index_trains_through_the_device_path_and_keeps_its_recall() -> None:
    data, queries = vectors(), vectors(50, seed=7)
    params = FaissParams(nlist=NLIST, nprobe=NLIST, train_size=N)
    index = ShardedFaissIndex(DIM, 2, "IVF-SQ8", params)
    index.upsert([f"o{i}" for i in range(N)], data)
    assert index.ivf_template is not None and index.ivf_template.is_trained
    found = [[int(oid[1:]) for oid, _ in row] for row in index.search(queries, 10)]
    truth = exact_top(data, queries, 10)
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
    assert recall >= 0.9


@needs_gpu
def test_a_gpu_trained_template_searches_as_well_as_a_cpu_trained_one() -> None:
    data, queries = vectors(), vectors(200, seed=7)
    on_cpu = train_template(new_ivf_template(DIM, FaissParams(nlist=NLIST)), data, "cpu")
    on_gpu = train_template(new_ivf_template(DIM, FaissParams(nlist=NLIST)), data, "cuda")
    assert faiss.extract_index_ivf(on_gpu).clustering_index is None  # a plain CPU index again
    gpu_recall = recall_of(on_gpu, data, queries)
    assert gpu_recall >= 0.9
    assert gpu_recall >= recall_of(on_cpu, data, queries) - 0.02
