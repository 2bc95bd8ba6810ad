"""A captioner that needs no API: detector class + measured colours (+ zero-shot attributes).

Caption examples: "red handbag", "blue and white striped shirt", "person wearing black clothes".
With an aligned image-text embedder injected, pattern and a finer category are picked zero-shot;
without one those stay unset and the category is the detector class.
"""

from __future__ import annotations

from core.domain import Attributes, Caption, Crop
from core.inference import ModelRunner
from services.captioner.colours import dominant_colours
from services.captioner.zero_shot import ImageTextEmbedder, ZeroShotTagger

OFFLINE_MODEL = "offline-colour-v1"


def colour_phrase(colours: tuple[str, ...]) -> str:
    """("blue",) → "blue"; ("blue", "white") → "blue and white"; three → "a, b and c"."""
    if len(colours) <= 1:
        return "".join(colours)
    return f"{', '.join(colours[:-1])} and {colours[-1]}"


def compose_caption(colours: tuple[str, ...], category: str, pattern: str | None) -> str:
    shown_pattern = pattern if pattern and pattern != "solid" else None
    if category == "person":
        clothes = " ".join(w for w in (colour_phrase(colours[:2]), shown_pattern) if w)
        return f"person wearing {clothes} clothes" if clothes else "person"
    return " ".join(w for w in (colour_phrase(colours[:2]), shown_pattern, category) if w)


class OfflineCaptioner:
    """Implements the `Captioner` port without network access; CPU work runs off the loop."""

    def __init__(self, embedder: ImageTextEmbedder | None = None) -> None:
        self._tagger = ZeroShotTagger(embedder) if embedder is not None else None
        identity = getattr(embedder, "identity", None)
        suffix = f"+{identity.key}" if identity is not None else "+zero-shot"
        self.name = OFFLINE_MODEL + (suffix if embedder is not None else "")
        self._runner = ModelRunner("offline-captioner")

    async def caption(self, crop: Crop) -> Caption:
        return await self._runner.run(self.caption_now, crop)

    def caption_now(self, crop: Crop) -> Caption:
        """The same caption, computed on the calling thread (for scripts and tests)."""
        label = crop.label.strip().lower() or "object"
        colours = dominant_colours(crop.image)
        pattern: str | None = None
        category = label
        if self._tagger is not None:
            tags = self._tagger.tag(crop.image, label)
            pattern, category = tags.pattern, tags.category
        attributes = Attributes(category=category, colours=colours, pattern=pattern)
        return Caption(compose_caption(colours, category, pattern), attributes, self.name)

    def close(self) -> None:
        self._runner.close()
