"""Caption crops with GPT-4o, or any OpenAI-compatible vision model, via Structured Outputs.

One request per crop (cached by content): the crop as a base64 JPEG data URL, the detector
class as a hint, and a strict JSON schema for the answer. Concurrency is bounded, transient
failures are retried with backoff, and estimated spend is capped.
"""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Any

import openai
from openai import AsyncOpenAI
from PIL import Image

from core.domain import Caption, Crop
from core.errors import CaptionerError
from core.imaging import encode_jpeg
from core.settings import CaptionerSettings
from services.captioner.answer import (
    PROMPT_VERSION,
    SYSTEM_PROMPT,
    parse_answer,
    response_format,
    user_prompt,
)
from services.captioner.cache import CaptionCache, cache_key
from services.captioner.retry import Backoff, call_with_retries
from services.captioner.spend import Price, SpendMeter, price_for

MAX_IMAGE_SIDE = 512  # GPT-4o "low" detail sees 512×512; more pixels only cost bytes
JPEG_QUALITY = 85
MAX_ANSWER_TOKENS = 300


def resolve_api_key(settings: CaptionerSettings) -> str | None:
    """The configured key, else `OPENAI_API_KEY` from the environment, else None."""
    if settings.api_key is not None and settings.api_key.get_secret_value():
        return settings.api_key.get_secret_value()
    return os.environ.get("OPENAI_API_KEY") or None


def make_openai_client(settings: CaptionerSettings) -> AsyncOpenAI:
    """An AsyncOpenAI client with the SDK's own retries off (ours are in `retry.py`)."""
    api_key = resolve_api_key(settings)
    if api_key is None:
        raise CaptionerError(
            "the OpenAI captioner needs an API key: set CATALENS_CAPTIONER__API_KEY or "
            "OPENAI_API_KEY (any non-empty value for a local server), or use the offline captioner"
        )
    return AsyncOpenAI(
        api_key=api_key, base_url=settings.base_url, timeout=settings.timeout_s, max_retries=0
    )


def crop_jpeg(image: Image.Image) -> bytes:
    """The crop as JPEG bytes, downscaled so its longest side is at most MAX_IMAGE_SIDE."""
    if max(image.size) > MAX_IMAGE_SIDE:
        image = image.copy()
        image.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE), Image.Resampling.LANCZOS)
    return encode_jpeg(image.convert("RGB"), quality=JPEG_QUALITY)


def chat_messages(jpeg: bytes, label: str) -> list[dict[str, Any]]:
    data_url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": user_prompt(label)},
                {"type": "image_url", "image_url": {"url": data_url, "detail": "low"}},
            ],
        },
    ]


def _price(settings: CaptionerSettings) -> Price:
    table = price_for(settings.model)
    return Price(
        table.input_usd_per_mtok
        if settings.input_usd_per_mtok is None
        else settings.input_usd_per_mtok,
        table.output_usd_per_mtok
        if settings.output_usd_per_mtok is None
        else settings.output_usd_per_mtok,
    )


class OpenAICaptioner:
    """Implements the `Captioner` port over the chat completions API."""

    def __init__(
        self,
        client: AsyncOpenAI,
        settings: CaptionerSettings,
        *,
        backoff: Backoff | None = None,
        cache: CaptionCache | None = None,
    ) -> None:
        self.name = f"openai/{settings.model}"
        self._client = client
        self._settings = settings
        self._backoff = backoff or Backoff()
        self._cache = cache or CaptionCache(settings.cache_dir)
        self._semaphore = asyncio.Semaphore(settings.max_concurrency)
        self.spend = SpendMeter(settings.spend_cap_usd, _price(settings))

    @classmethod
    def from_settings(cls, settings: CaptionerSettings) -> OpenAICaptioner:
        return cls(make_openai_client(settings), settings)

    async def caption(self, crop: Crop) -> Caption:
        jpeg = crop_jpeg(crop.image)
        key = cache_key(jpeg, self._settings.model, PROMPT_VERSION, crop.label)
        cached = await asyncio.to_thread(self._cache.get, key)
        if cached is not None:
            return cached
        self.spend.check()
        async with self._semaphore:
            self.spend.check()  # others may have spent while this call waited
            caption = await self._ask(jpeg, crop.label)
        await asyncio.to_thread(self._cache.put, key, caption)
        return caption

    async def _ask(self, jpeg: bytes, label: str) -> Caption:
        messages = chat_messages(jpeg, label)

        async def request() -> Any:
            return await self._client.chat.completions.create(  # type: ignore[call-overload]
                model=self._settings.model,
                messages=messages,
                response_format=response_format(),
                temperature=0,
                max_tokens=MAX_ANSWER_TOKENS,
            )

        try:
            response = await call_with_retries(request, self._settings.max_retries, self._backoff)
        except openai.APIStatusError as exc:
            message = f"captioner API answered {exc.status_code}: {exc.message}"
            raise CaptionerError(message) from exc
        except openai.APIConnectionError as exc:
            raise CaptionerError(f"captioner API unreachable: {exc}") from exc
        usage = response.usage
        if usage is not None:  # a server that reports no usage cannot be metered
            self.spend.record(usage.prompt_tokens or 0, usage.completion_tokens or 0)
        if not response.choices:
            raise CaptionerError("captioner answered with no choices")
        message = response.choices[0].message
        if getattr(message, "refusal", None):
            raise CaptionerError(f"captioner refused: {message.refusal}")
        return parse_answer(message.content, response.model or self._settings.model)

    async def aclose(self) -> None:
        await self._client.close()
