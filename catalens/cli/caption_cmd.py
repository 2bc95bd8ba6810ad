"""`catalens caption PATH... [--offline] [--label CLASS]`: one JSON line per image."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import typer

HELP = "\n\n".join(
    [
        "Caption whole images and print one JSON object per image: path, caption, attributes "
        "(category, colours, pattern, material, style) and the model that wrote it.",
        "With an API key (CATALENS_CAPTIONER__API_KEY or OPENAI_API_KEY) this asks GPT-4o, or "
        "any OpenAI-compatible vision model at CATALENS_CAPTIONER__BASE_URL, within the spend "
        "cap CATALENS_CAPTIONER__SPEND_CAP_USD. Without a key, or with --offline, the offline "
        "captioner names the --label class and the colours measured from the pixels; "
        "--zero-shot adds pattern and a finer category from the configured embedder.",
        "A bad image prints an error line on stderr and the others go on; the exit code is 1 "
        "when any image failed, 2 when no captioner can be built.",
    ]
)


def _as_json(path: Path, caption: Any) -> str:
    a = caption.attributes
    attributes = {
        "category": a.category,
        "colours": list(a.colours),
        "pattern": a.pattern,
        "material": a.material,
        "style": a.style,
    }
    record = {
        "path": str(path),
        "caption": caption.caption,
        "attributes": attributes,
        "model": caption.model,
    }
    return json.dumps(record)


async def _caption_all(captioner: Any, paths: list[Path], label: str) -> int:
    """Caption each image in turn; return how many failed."""
    failed = 0
    try:
        for path in paths:
            failed += not await _caption_one(captioner, path, label)
    finally:
        if hasattr(captioner, "aclose"):
            await captioner.aclose()
    return failed


async def _caption_one(captioner: Any, path: Path, label: str) -> bool:
    from core.domain import Box, Crop
    from core.errors import CatalensError
    from core.imaging import load_image_file

    try:
        image = await asyncio.to_thread(load_image_file, path)
        crop = Crop("image", label, 1.0, Box(0, 0, image.width, image.height), image)
        typer.echo(_as_json(path, await captioner.caption(crop)))
        return True
    except (CatalensError, OSError) as exc:
        reason = getattr(exc, "reason", type(exc).__name__)
        message = getattr(exc, "message", None) or str(exc)
        typer.echo(f"error: {path}: {message} ({reason})", err=True)
        return False


def caption(
    paths: list[Path] = typer.Argument(..., help="image files to caption", show_default=False),
    offline: bool = typer.Option(False, "--offline", help="never call an API"),
    label: str = typer.Option(
        "product", "--label", "-l", help="the object class to name (as a detector would)"
    ),
    zero_shot: bool = typer.Option(
        False, "--zero-shot", help="offline: pattern and finer category from the embedder"
    ),
) -> None:
    from core.errors import CatalensError
    from core.settings import Settings
    from services.captioner import build_captioner

    settings = Settings()
    config = settings.captioner
    if offline:
        config = config.model_copy(update={"backend": "offline"})
    try:
        embedder = None
        if zero_shot:
            from core.embedding.factory import build_embedder

            embedder = build_embedder(settings.embedder, data_dir=settings.data_dir)
        captioner = build_captioner(config, embedder=embedder)
    except CatalensError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    failed = asyncio.run(_caption_all(captioner, paths, label))
    if hasattr(captioner, "close"):
        captioner.close()
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("caption", help=HELP)(caption)
