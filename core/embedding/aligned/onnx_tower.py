"""The image tower under ONNX Runtime: the same EfficientNet-Lite features, batched on the CPU.

The torch tower (`extract_features` + global average pool) is exported once to ONNX with a
dynamic batch axis and cached under `~/.cache/catalens/onnx/` (outside any data dir, so tests
and demos share it), named by the tower, a digest of its weights and the torch version; later
loads open the cached file. ONNX Runtime's CPU provider runs it with one intra-op thread per
core. Outputs match the torch tower to ~1e-5 (`tests/unit/test_onnx_tower.py`).

Sources: `torch.onnx.export` (TorchScript exporter, opset 17), ONNX Runtime
`InferenceSession` with `CPUExecutionProvider`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.errors import ModelError

if TYPE_CHECKING:
    import torch

CACHE = Path.home() / ".cache" / "catalens" / "onnx"


def _pooled(net: torch.nn.Module) -> torch.nn.Module:
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net.extract_features(x).mean(dim=(2, 3))  # type: ignore[operator]

    return Pooled().eval()


def exported(net: torch.nn.Module, name: str, size: int, cache: Path = CACHE) -> Path:
    """The ONNX file of `net`'s pooled features for (n, 3, size, size) float32 input."""
    import torch

    digest = hashlib.sha256()
    for key, value in sorted(net.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().float().numpy().tobytes())
    path = cache / f"{name}-{size}-{digest.hexdigest()[:12]}-torch{torch.__version__}.onnx"
    if path.is_file():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache, suffix=".tmp", delete=False) as tmp:
        torch.onnx.export(
            _pooled(net).to("cpu").to(memory_format=torch.contiguous_format),
            (torch.zeros(2, 3, size, size),),
            tmp.name,
            input_names=["pixels"],
            output_names=["features"],
            dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    os.replace(tmp.name, path)  # atomic: a concurrent reader sees no half-written file
    return path


class OnnxTower:
    """`run(pixels)`: (n, 3, size, size) float32 normalised pixels → (n, 1280) float32."""

    def __init__(self, path: Path) -> None:
        try:
            import onnxruntime as ort
        except ModuleNotFoundError as exc:
            raise ModelError("embedder.runtime 'onnx' needs the PyPI package onnxruntime") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(self, pixels: np.ndarray) -> np.ndarray:
        (features,) = self._session.run(None, {"pixels": np.ascontiguousarray(pixels, np.float32)})
        return np.asarray(features, dtype=np.float32)
