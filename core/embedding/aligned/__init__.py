"""Our own aligned text↔image embedder (inference): trained heads over locked EfficientNet-Lite
+ MiniLM towers. Training lives in `catalens.training.aligned`.

`AlignedEmbedder` is imported lazily so that importing a light submodule does not load torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AlignedEmbedder"]


def __getattr__(name: str) -> Any:
    if name == "AlignedEmbedder":
        from core.embedding.aligned.embedder import AlignedEmbedder

        return AlignedEmbedder
    raise AttributeError(name)
