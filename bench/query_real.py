"""A second data distribution for the query bench: the catalog's own aligned image vectors.

The Gaussian clusters of `query_data` flatter IVF (every point sits near one of 4,096 centres).
Real embeddings are lumpier: here the shipped aligned heads (`SHIPPED_ALIGNED`, 256-d) embed
the cached features of their own image tower (fashion-products photos, crops and their
augmented views: `catalens train embedder` writes that cache); a sample of n is then drawn
from them with a little isotropic noise (norm `noise`) so a million distinct vectors keep the
real ones' neighbourhood structure. Queries come from the same draw with other seeds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.query_data import CHUNK, normalise
from core.embedding.factory import SHIPPED_ALIGNED

CACHE = Path("/work/train/embedder/cache/aligned-features/image")


@dataclass(frozen=True)
class RealLike:
    artifact: Path = SHIPPED_ALIGNED
    noise: float = 0.2
    cache: Path = CACHE

    @property
    def features(self) -> Path:
        """The cached features of the artifact's image tower."""
        manifest = json.loads((self.artifact / "manifest.json").read_text())
        return self.cache / str(manifest["towers"]["image"])

    def describe(self, base: int) -> str:
        return (
            f"the shipped aligned model's 256-d image vectors of {base:,} cached tower features "
            f"(`{self.features}`: fashion-products photos, crops and augmented views), drawn with "
            f"replacement plus isotropic noise of norm {self.noise}, L2-normalised"
        )


class RealGenerator:
    """`sample(n, seed)` like `query_data.Generator`, over real aligned vectors.
    Raises FileNotFoundError when the feature cache is missing."""

    def __init__(self, spec: RealLike) -> None:
        import torch

        from core.embedding.aligned.artifact import read_artifact
        from core.embedding.aligned.heads import AlignedHeads, HeadConfig

        files = sorted(spec.features.rglob("*.npy"))
        if not files:
            raise FileNotFoundError(f"no cached tower features under {spec.features}")
        artifact = read_artifact(spec.artifact)
        heads = AlignedHeads(HeadConfig(**artifact.manifest["heads"]))
        heads.load_state_dict(artifact.state)
        heads.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(files), 8192):
                block = np.stack([np.load(f) for f in files[start : start + 8192]])
                out.append(heads.embed_images(torch.from_numpy(block.astype(np.float32))).numpy())
        self.spec, self.base = spec, normalise(np.concatenate(out))

    def sample(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        dim = self.base.shape[1]
        out = np.empty((n, dim), dtype=np.float32)
        for start in range(0, n, CHUNK):
            m = min(CHUNK, n - start)
            noise = rng.standard_normal((m, dim), dtype=np.float32)
            noise *= self.spec.noise / np.sqrt(dim)
            out[start : start + m] = normalise(
                self.base[rng.integers(0, len(self.base), m)] + noise
            )
        return out
