"""Choose the captioner from settings: GPT-4o (or a compatible server) when a key is set."""

from __future__ import annotations

from core.errors import CaptionerError
from core.ports import Captioner
from core.settings import CaptionerSettings
from services.captioner.offline import OfflineCaptioner
from services.captioner.openai_captioner import OpenAICaptioner, resolve_api_key
from services.captioner.zero_shot import ImageTextEmbedder


def build_captioner(
    settings: CaptionerSettings, embedder: ImageTextEmbedder | None = None
) -> Captioner:
    """backend "auto": OpenAI when an API key is set (settings or OPENAI_API_KEY), else offline;
    "openai": OpenAI, and a clear CaptionerError without a key; "offline": always offline.
    `embedder` (an aligned image-text model) only feeds the offline captioner's zero-shot tags."""
    if settings.backend == "openai" and resolve_api_key(settings) is None:
        raise CaptionerError(
            "captioner backend 'openai' needs an API key: set CATALENS_CAPTIONER__API_KEY or "
            "OPENAI_API_KEY, or choose CATALENS_CAPTIONER__BACKEND=offline"
        )
    if uses_offline(settings):
        return OfflineCaptioner(embedder)
    return OpenAICaptioner.from_settings(settings)


def uses_offline(settings: CaptionerSettings) -> bool:
    """Whether `build_captioner` picks the offline captioner (no key, or asked for)."""
    return settings.backend == "offline" or (
        settings.backend == "auto" and resolve_api_key(settings) is None
    )
