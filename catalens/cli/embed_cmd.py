"""`catalens embed PATH... [--text ...]`: one JSON line per image or text with its vector."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer

HELP = "\n\n".join(
    [
        "Embed images and texts with the configured embedder and print one JSON object per "
        "input: path or text, model identity, dim, norm and the first 8 values (all with --full).",
        "Backends: `aligned` (default) is the embedder trained here by `catalens train embedder`; "
        "`open_clip` runs any open_clip model; `hf_clip` a transformers CLIP folder such as "
        "FashionCLIP (--model /path/to/fashion-clip; docs/models.md).",
        "open_clip needs REAL weights for meaningful vectors and never downloads them. Put them "
        "in --cache-dir (CATALENS_EMBEDDER__CACHE_DIR) in huggingface_hub cache layout, e.g. "
        "<cache>/models--timm--vit_base_patch32_clip_224.openai/snapshots/<rev>/"
        "open_clip_model.safetensors for ViT-B-32 + openai, or pass --pretrained "
        "/path/to/weights.safetensors. `--pretrained none` builds random weights: shapes only, "
        "the vectors mean nothing. Details: docs/_parts/models-open-clip.md.",
        "A bad image prints an error line on stderr and the others go on; the exit code is 1 "
        "when any input failed, 2 when the model cannot be loaded.",
    ]
)


def embed(
    paths: list[Path] = typer.Argument(None, help="image files to embed", show_default=False),
    text: list[str] = typer.Option([], "--text", "-t", help="a text to embed (repeatable)"),
    backend: str | None = typer.Option(
        None, help="aligned | open_clip | hf_clip (default: settings)"
    ),
    model: str | None = typer.Option(
        None,
        help="aligned: artifact folder; open_clip: model name, e.g. ViT-B-32 or hf-hub:org/repo; "
        "hf_clip: transformers CLIP folder",
    ),
    pretrained: str | None = typer.Option(
        None, help="open_clip pretrained tag (openai), a weights file path, or `none` (random)"
    ),
    cache_dir: Path | None = typer.Option(None, help="offline open_clip weights cache"),
    device: str | None = typer.Option(None, help="cpu | cuda"),
    full: bool = typer.Option(False, "--full", help="print every value, not the first 8"),
) -> None:
    from core.embedding.factory import build_embedder
    from core.errors import CatalensError
    from core.imaging import load_image_file
    from core.settings import EmbedderSettings, Settings

    if not paths and not text:
        raise typer.BadParameter("give at least one image PATH or --text")
    settings = Settings()
    given: dict[str, object] = {
        "backend": backend,
        "model": model,
        "cache_dir": cache_dir,
        "device": device,
    }
    update: dict[str, object] = {k: v for k, v in given.items() if v is not None}
    if pretrained is not None:
        update["pretrained"] = None if pretrained.lower() == "none" else pretrained
    config = EmbedderSettings.model_validate({**settings.embedder.model_dump(), **update})
    try:
        embedder = build_embedder(config, data_dir=settings.data_dir)
    except CatalensError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc

    identity = {
        "backend": embedder.identity.backend,
        "name": embedder.identity.name,
        "version": embedder.identity.version,
    }
    failed = 0
    for path in paths or []:
        try:
            vector = embedder.embed_images([load_image_file(path)])[0]
        except (CatalensError, OSError) as exc:
            failed += 1
            typer.echo(f"error: {path}: {getattr(exc, 'message', exc)}", err=True)
            continue
        typer.echo(_line({"path": str(path)}, identity, vector, full))
    if text:
        for item, vector in zip(text, embedder.embed_texts(text), strict=True):
            typer.echo(_line({"text": item}, identity, vector, full))
    if failed:
        raise typer.Exit(1)


def _line(source: dict[str, str], identity: dict[str, str], vector: np.ndarray, full: bool) -> str:
    values = vector if full else vector[:8]
    record = {
        **source,
        "model": identity,
        "dim": int(vector.shape[0]),
        "norm": round(float(np.linalg.norm(vector)), 6),
        ("vector" if full else "head"): [round(float(v), 6) for v in values],
    }
    return json.dumps(record)


def register(app: typer.Typer) -> None:
    app.command("embed", help=HELP)(embed)
