"""Captions are cached by crop content, model, prompt version and hint, never across them."""

from __future__ import annotations

from core.domain import Attributes, Caption
from services.captioner.cache import CaptionCache, cache_key

CAPTION = Caption("red handbag", Attributes("handbag", ("red",), "solid", "leather", None), "m")


def test_a_cached_caption_survives_a_new_cache_over_the_same_folder(tmp_path):
    key = cache_key(b"jpeg", "gpt-4o", "v1", "handbag")
    CaptionCache(tmp_path).put(key, CAPTION)

    assert CaptionCache(tmp_path).get(key) == CAPTION


def test_a_corrupt_cache_file_is_a_miss_not_an_error(tmp_path):
    key = cache_key(b"jpeg", "gpt-4o", "v1", "handbag")
    CaptionCache(tmp_path).put(key, CAPTION)
    for path in tmp_path.rglob("*.json"):
        path.write_text("{truncated")

    assert CaptionCache(tmp_path).get(key) is None


def test_the_key_changes_with_the_image_the_model_the_prompt_and_the_hint():
    base = cache_key(b"jpeg", "gpt-4o", "v1", "handbag")

    assert base == cache_key(b"jpeg", "gpt-4o", "v1", "handbag")
    others = {
        cache_key(b"jpeg2", "gpt-4o", "v1", "handbag"),
        cache_key(b"jpeg", "gpt-4o-mini", "v1", "handbag"),
        cache_key(b"jpeg", "gpt-4o", "v2", "handbag"),
        cache_key(b"jpeg", "gpt-4o", "v1", "backpack"),
    }
    assert base not in others and len(others) == 4


def test_memory_keeps_only_the_most_recently_used_captions():
    cache = CaptionCache(max_items=2)
    cache.put("a", CAPTION)
    cache.put("b", CAPTION)
    cache.get("a")
    cache.put("c", CAPTION)

    assert cache.get("a") == CAPTION
    assert cache.get("b") is None
