"""JSON Schema export of every contract, and the Markdown page generated from those schemas."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from schemas.envelope import ENVELOPE_FIELDS
from schemas.events import EVENT_TYPES

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schemas() -> dict[str, dict[str, Any]]:
    """`{file name: JSON Schema}` for every message type (`objects.detected.json`, ...)."""
    out: dict[str, dict[str, Any]] = {}
    for kind, cls in EVENT_TYPES.items():
        schema = cls.model_json_schema(mode="validation")
        # envelope fields have defaults in Python but are required on the wire
        schema["required"] = sorted(
            set(schema.get("required", [])) | set(ENVELOPE_FIELDS),
            key=list(schema["properties"]).index,
        )
        schema["properties"]["schema_version"]["x-supported"] = cls.supported_version()
        out[f"{kind}.json"] = {"$schema": JSON_SCHEMA_DIALECT, **schema}
    out["objects.embedded.frame.json"] = frame_header_schema(out["objects.embedded.json"])
    return out


def frame_header_schema(embedded: dict[str, Any]) -> dict[str, Any]:
    """The header of a vector frame (`schemas.frames`): the `objects.embedded` schema with no
    `data` in any vector, whose bytes follow the header instead."""
    schema = copy.deepcopy(embedded)
    defs = schema["$defs"]
    vector = defs.pop("Vector")
    del vector["properties"]["data"]
    vector["required"] = [name for name in vector["required"] if name != "data"]
    vector["title"] = "FrameVector"
    vector["description"] = (
        "A vector in a frame's header: its `dim` little-endian values of `dtype` follow the "
        "header, in the order of `vectors`."
    )
    item = defs.pop("EmbeddedVector")
    item["properties"]["vector"]["$ref"] = "#/$defs/FrameVector"
    item["title"] = "FrameEmbeddedVector"
    defs["FrameVector"], defs["FrameEmbeddedVector"] = vector, item
    schema["properties"]["vectors"]["items"]["$ref"] = "#/$defs/FrameEmbeddedVector"
    schema["title"] = "ObjectsEmbedded vector frame header"
    schema["description"] = (
        "An `objects.embedded` message as a vector frame, frame version 1: " + _frames_layout()
    )
    return schema


def _frames_layout() -> str:
    from schemas.frames import MAGIC

    return (
        f"the bytes {MAGIC!r}, one byte of frame version, the header's length H as a "
        "little-endian uint32, H bytes of this JSON header (the message as JSON, vectors "
        "without `data`), then every vector's `dim` little-endian values of its `dtype`, "
        "in the order of `vectors`, nothing after. `decode` reads frames and JSON records "
        "alike; writers choose with `StreamingSettings.vector_frames`."
    )


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def write_json(out_dir: Path) -> list[Path]:
    """Writes one `<type>.json` per message into `out_dir`; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = out_dir / name
        path.write_text(dumps(schema), encoding="utf-8")
        written.append(path)
    return written


def write_markdown(path: Path) -> Path:
    """Writes the Markdown page generated from the JSON schemas to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown(json_schemas()), encoding="utf-8")
    return path


def stale_files(json_dir: Path, docs_path: Path) -> list[Path]:
    """Files that differ from a fresh export (missing, changed, or left over)."""
    fresh = {json_dir / name: dumps(schema) for name, schema in json_schemas().items()}
    fresh[docs_path] = render_markdown(json_schemas())
    stale = [p for p, text in fresh.items() if not p.is_file() or p.read_text("utf-8") != text]
    leftover = [p for p in sorted(json_dir.glob("*.json")) if p not in fresh]
    return stale + leftover


def _type_of(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
    if "anyOf" in prop:
        return " \\| ".join(_type_of(p) for p in prop["anyOf"])
    kind = prop.get("type", "any")
    if kind == "array":
        items = prop.get("items")
        inner = _type_of(items) if items else "any"
        fixed = "minItems" in prop and prop.get("minItems") == prop.get("maxItems")
        size = str(prop["minItems"]) if fixed else ""
        return f"{inner}[{size}]"
    extra = prop.get("format") or prop.get("contentEncoding")
    return f"{kind} ({extra})" if extra else str(kind)


def _describe(prop: dict[str, Any]) -> str:
    text = str(prop.get("description", ""))
    for sub in prop.get("anyOf", []):
        text = text or str(sub.get("description", ""))
    if "const" in prop:
        return "message type (the decoding discriminator)"
    limits = [f"{key} {prop[key]}" for key in ("minimum", "maximum") if key in prop]
    if "pattern" in prop:
        limits.append(f"pattern `{prop['pattern']}`")
    if "default" in prop and prop["default"] is not None:
        limits.append(f"default `{json.dumps(prop['default'])}`")
    if limits:
        text += (" — " if text else "") + ", ".join(limits)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", []))
    lines = ["| field | type | required | description |", "|---|---|---|---|"]
    for name, prop in schema.get("properties", {}).items():
        needed = "yes" if name in required else ""
        lines.append(f"| `{name}` | {_type_of(prop)} | {needed} | {_describe(prop)} |")
    return lines


def render_markdown(schemas: dict[str, dict[str, Any]]) -> str:
    """The `docs/schemas.md` page: one table per message and per nested type."""
    lines = [
        "# Message contracts",
        "",
        "Generated by `catalens schemas export` from `schemas/json/`; do not edit by hand.",
        "Every message is UTF-8 JSON carrying the envelope fields `event_id`, `schema_version`,",
        "`type`, `producer`, `time`, `traceparent` (and optional `tracestate`). Readers accept",
        "any minor version of a major they know and refuse other majors. Vectors are",
        "little-endian float32/float16 bytes in standard base64, never lists of numbers.",
        "",
    ]
    nested: dict[str, dict[str, Any]] = {}
    for name, schema in schemas.items():
        version = schema["properties"]["schema_version"]["x-supported"]
        lines += [
            f"## {schema['title']}",
            "",
            f"`type` = `{schema['properties']['type'].get('const', name.removesuffix('.json'))}`, "
            f"version {version}, file `schemas/json/{name}`",
            "",
        ]
        lines += [str(schema.get("description", "")).strip(), "", *_table(schema), ""]
        nested.update(schema.get("$defs", {}))
    for name in sorted(nested):
        lines += [f"### {name}", "", str(nested[name].get("description", "")).strip(), ""]
        lines += [*_table(nested[name]), ""]
    return "\n".join(lines).rstrip("\n") + "\n"
