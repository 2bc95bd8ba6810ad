"""Our own aligned text↔image embedder: trained heads over locked EfficientNet-Lite + MiniLM.

`AlignedEmbedder` and `train_aligned` are imported lazily so that importing a light submodule
(e.g. `dataset`) does not load torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AlignedEmbedder", "TrainConfig", "TrainResult", "train_aligned"]


def __getattr__(name: str) -> Any:
    if name == "AlignedEmbedder":
        from services.embedder.aligned.embedder import AlignedEmbedder

        return AlignedEmbedder
    if name in ("TrainConfig", "TrainResult", "train_aligned"):
        from services.embedder.aligned import train

        return getattr(train, name)
    raise AttributeError(name)
