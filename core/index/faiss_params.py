"""Index types, their tuning knobs, the object-id hash, and the FAISS objects built from them."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

import faiss
import numpy as np

if TYPE_CHECKING:
    from core.settings import IndexSettings

IndexType = Literal["Auto", "Flat", "HNSW", "IVF-SQ8"]
INDEX_TYPES: tuple[str, ...] = get_args(IndexType)
_MASK_63 = (1 << 63) - 1


def faiss_key(object_id: str) -> int:
    """Stable non-negative int64 of an object id: first 8 bytes of its sha256, 63 bits."""
    digest = hashlib.sha256(object_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") & _MASK_63


@dataclass(frozen=True)
class FaissParams:
    """Tuning of the inner indexes; the defaults suit up to a few million vectors per shard."""

    hnsw_m: int = 32
    ef_construction: int = 40
    ef_search: int = 64
    nlist: int = 64
    nprobe: int = 8
    train_size: int | None = None  # IVF trains once this many vectors arrived; None: 39 * nlist
    compact_ratio: float = 0.25  # rebuild a shard when this share of its entries are dead
    compact_min_dead: int = 32  # ... and at least this many
    device: Literal["auto", "cpu", "cuda"] = "auto"  # where IVF trains: see faiss_gpu
    # "Auto" only (see faiss_auto): exact below `exact_below` vectors, then IVF-PQ fast-scan with
    # a float16 refine, rebuilt when the size class changes (`growth` times the last build's size);
    # nprobe and k_factor are calibrated at each build to reach `recall_target` recall@10 on
    # `calibration_queries` stored vectors (their exact neighbours, the query itself left out)
    exact_below: int = 20_000
    growth: float = 4.0
    recall_target: float = 0.95
    calibration_queries: int = 1024

    @property
    def train_threshold(self) -> int:
        return self.train_size if self.train_size is not None else 39 * self.nlist


@dataclass(frozen=True)
class Knobs:
    """Search settings of a built "Auto" index, calibrated on its own vectors."""

    nlist: int
    nprobe: int
    k_factor: float
    recall: float  # recall@10 the calibration measured with them
    size: int  # vectors the index held at that calibration
    built: int = 0  # vectors the index held at its last build


def widened(knobs: Knobs | None, factor: int) -> Knobs | None:
    """`knobs` with `factor` times the lists probed (at most all): a filtered search fetches
    `factor` times the hits it wants, and those lie in more lists than the top 10 do."""
    if knobs is None or factor <= 1:
        return None
    return dataclasses.replace(knobs, nprobe=min(knobs.nlist, knobs.nprobe * factor))


def params_from_settings(index: IndexSettings) -> FaissParams:
    """The FAISS tuning `CATALENS_INDEX__*` asks for."""
    return FaissParams(
        device=index.device, exact_below=index.exact_below, recall_target=index.recall_target
    )


def check_index_type(index_type: str) -> IndexType:
    if index_type not in INDEX_TYPES:
        raise ValueError(
            f"index_type: expected one of {', '.join(INDEX_TYPES)}, got {index_type!r}"
        )
    return index_type  # type: ignore[return-value]


def new_flat(dim: int) -> faiss.IndexIDMap2:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def new_hnsw(dim: int, params: FaissParams) -> faiss.IndexIDMap2:
    inner = faiss.IndexHNSWFlat(dim, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    inner.hnsw.efConstruction = params.ef_construction
    inner.hnsw.efSearch = params.ef_search
    return faiss.IndexIDMap2(inner)


def new_ivf_template(dim: int, params: FaissParams) -> faiss.Index:
    """An untrained `IVF{nlist},SQ8` inner index (inner product)."""
    return faiss.index_factory(dim, f"IVF{params.nlist},SQ8", faiss.METRIC_INNER_PRODUCT)


def new_ivf(template: faiss.Index) -> faiss.IndexIDMap2:
    """An empty IVF shard sharing the trained `template`'s centroids, reconstructable by id."""
    inner = faiss.clone_index(template)
    inner.reset()
    faiss.extract_index_ivf(inner).make_direct_map()
    return faiss.IndexIDMap2(inner)


def search_parameters(
    index_type: IndexType,
    trained: bool,
    params: FaissParams,
    excluded: faiss.IDSelector | None,
    knobs: Knobs | None = None,
) -> faiss.SearchParameters:
    """Fresh per call: IndexIDMap.search swaps `sel` inside the object it is given. A trained
    "Auto" shard is a bare IndexRefine: `excluded` goes to its IVF stage (the refine stage only
    re-ranks what that stage found), nprobe and k_factor come from the calibrated `knobs`."""
    if index_type == "Auto" and trained and knobs is not None:
        base = faiss.SearchParametersIVF()
        base.nprobe = knobs.nprobe
        if excluded is not None:
            base.sel = excluded
        refine = faiss.IndexRefineSearchParameters()
        refine.k_factor = knobs.k_factor
        refine.base_index_params = base
        refine.keep_alive = base  # type: ignore[attr-defined]  # the SWIG object must outlive it
        return refine
    if index_type == "HNSW":
        hnsw = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # missing in stubs
        hnsw.efSearch = params.ef_search
        out: faiss.SearchParameters = hnsw
    elif index_type == "IVF-SQ8" and trained:
        out = faiss.SearchParametersIVF()
        out.nprobe = params.nprobe
    else:
        out = faiss.SearchParameters()
    if excluded is not None:
        out.sel = excluded
    return out


def as_matrix(vectors: np.ndarray, dim: int, what: str = "vectors") -> np.ndarray:
    """C-contiguous float32 (n, dim); a single 1-d vector becomes one row."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != dim:
        raise ValueError(f"{what}: expected shape (n, {dim}), got {np.shape(vectors)}")
    return np.ascontiguousarray(array)
