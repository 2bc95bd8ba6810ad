"""What we ask a vision-language model for, and how its answer is checked.

The JSON schema goes to the API as a strict Structured Output; the pydantic model re-checks the
answer on our side (a local OpenAI-compatible server may not enforce the schema).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.domain import Attributes, Caption
from core.errors import CaptionerError

PROMPT_VERSION = "v1"
SCHEMA_NAME = "product_caption"
PATTERNS = ("solid", "striped", "checked", "floral", "printed", "dotted", "other")

SYSTEM_PROMPT = (
    "You describe one product photo cropped from a catalog image, for a search index. "
    "Answer in JSON that follows the schema. caption: at most 12 words, colour first, "
    "e.g. 'red leather handbag' or 'blue and white striped cotton shirt'. category: the "
    "product type in one or two lowercase words. colours: the item's main colours as plain "
    "lowercase colour names, largest area first, ignoring the background. pattern: one of the "
    "listed values. material and style: one or two lowercase words, or null when unsure."
)


def user_prompt(label: str) -> str:
    hint = label.strip() or "object"
    return f"An object detector labelled this crop '{hint}' (a hint; it may be wrong)."


CAPTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "caption": {"type": "string", "description": "short caption, colour first"},
        "category": {"type": "string", "description": "product type, lowercase"},
        "colours": {
            "type": "array",
            "items": {"type": "string"},
            "description": "main colours of the item, largest first",
        },
        "pattern": {"type": "string", "enum": list(PATTERNS)},
        "material": {"type": ["string", "null"]},
        "style": {"type": ["string", "null"]},
    },
    "required": ["caption", "category", "colours", "pattern", "material", "style"],
    "additionalProperties": False,
}


def response_format() -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": CAPTION_SCHEMA},
    }


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split()).lower()
    return text or None


class CaptionAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    caption: str = Field(min_length=1, max_length=300)
    category: str = Field(min_length=1, max_length=80)
    colours: list[str] = Field(max_length=8)
    pattern: Literal["solid", "striped", "checked", "floral", "printed", "dotted", "other"]
    material: str | None = Field(max_length=80)
    style: str | None = Field(max_length=80)

    @field_validator("colours")
    @classmethod
    def _lowercase_colours(cls, colours: list[str]) -> list[str]:
        cleaned = [c for c in (_clean(colour) for colour in colours) if c]
        return list(dict.fromkeys(cleaned))

    def to_caption(self, model: str) -> Caption:
        attributes = Attributes(
            category=_clean(self.category) or self.category,
            colours=tuple(self.colours),
            pattern=self.pattern,
            material=_clean(self.material),
            style=_clean(self.style),
        )
        return Caption(caption=" ".join(self.caption.split()), attributes=attributes, model=model)


def parse_answer(content: str | None, model: str) -> Caption:
    """The model's message content → Caption, or CaptionerError saying what was wrong."""
    if not content:
        raise CaptionerError("captioner answered with no content")
    try:
        return CaptionAnswer.model_validate_json(content).to_caption(model)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "answer"
        raise CaptionerError(f"captioner answer is malformed at {where}: {first['msg']}") from exc
