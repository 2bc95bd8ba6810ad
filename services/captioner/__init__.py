"""Captioner service: a short caption and attributes for each detected object.

`build_captioner(settings, embedder=None)` picks `OpenAICaptioner` (GPT-4o or any
OpenAI-compatible vision model) when an API key is set, else `OfflineCaptioner`.
"""

from services.captioner.factory import build_captioner
from services.captioner.offline import OfflineCaptioner
from services.captioner.openai_captioner import OpenAICaptioner

__all__ = ["OfflineCaptioner", "OpenAICaptioner", "build_captioner"]
