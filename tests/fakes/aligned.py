"""An aligned-embedder artifact with untrained (random) heads: for format, loading and registry
tests, never for search quality."""

from __future__ import annotations

from pathlib import Path

from core.embedding.aligned.artifact import write_artifact
from core.embedding.aligned.heads import AlignedHeads, HeadConfig


def write_untrained_artifact(root: Path, heads: HeadConfig) -> Path:
    manifest = {
        "identity": {"backend": "aligned", "name": "aligned-lite0-minilm", "dim": heads.out_dim},
        "towers": {"image": "lite0", "text": "all-MiniLM-L6-v2"},
        "preprocessing": {"image_size": 224, "flip_average": False},
        "heads": heads.as_dict(),
        "training": {},
        "metrics": {},
    }
    return write_artifact(root, manifest, AlignedHeads(heads).state_dict())
