"""`catalens demo` and `catalens serve`: the embedded default (no servers needed)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from core.settings import Settings

if TYPE_CHECKING:
    from catalens.embedded.bootstrap import EmbeddedStack

DATA_DIR_HELP = "where models, the embedded Postgres and crops live (CATALENS_DATA_DIR)"
PRESET_HELP = (
    "detector classes: fashion (the clothing detector that ships in models/fashion-detector: "
    "sunglass, hat, jacket, shirt, pants, shorts, skirt, dress, bag, shoe), coco7 or all (the "
    "COCO model); default: CATALENS_DETECTOR__PRESET, else fashion"
)


def register(app: typer.Typer) -> None:
    app.command()(demo)
    app.command()(serve)


def _settings(data_dir: Path | None, port: int | None, preset: str | None = None) -> Settings:
    settings = Settings()
    if preset is not None or "preset" not in settings.detector.model_fields_set:
        try:
            settings.detector = settings.detector.with_preset(preset or "fashion")
        except ValueError as exc:  # pydantic's ValidationError names the allowed presets
            raise typer.BadParameter(str(exc), param_hint="--preset") from exc
    if data_dir is not None:
        settings.data_dir = data_dir
    if port is not None:
        settings.query.port = port
    return settings


def demo(
    images: list[Path] = typer.Argument(
        None, help="folders of images to ingest; default: the shared sample catalog"
    ),
    products: int = typer.Option(1500, min=0, help="how many shared product photos to ingest"),
    data_dir: Path = typer.Option(None, help=DATA_DIR_HELP),
    port: int = typer.Option(None, min=1, max=65535, help="HTTP port (default 8000)"),
    serve_after: bool = typer.Option(True, "--serve/--no-serve", help="serve search + UI"),
    preset: str = typer.Option(None, help=PRESET_HELP),
) -> None:
    """Start the embedded stack with the committed models (nothing is trained), ingest a sample
    catalog with a progress bar, and serve search + UI on http://127.0.0.1:8000.

    Re-running resumes: images already in the catalog (same content) are skipped."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = _settings(data_dir, port, preset)
    try:
        asyncio.run(_demo(settings, images or [], products, serve_after))
    except asyncio.CancelledError:
        typer.echo("stopped (SIGTERM); re-run to resume", err=True)
        raise SystemExit(128 + signal.SIGTERM) from None


async def finish_aside(stack: EmbeddedStack, tries: int = 3) -> None:
    """Before a `--no-serve` run exits: retry the work set aside while its Postgres was away
    (a few beats of `streaming.aside_retry_s`); what is left is finished by the next start."""
    for _ in range(tries):
        if not len(stack.aside):
            return
        await asyncio.sleep(min(stack.settings.streaming.aside_retry_s, 10.0))
        await stack.aside.retry(stack.bus)
    if len(stack.aside):
        typer.echo(
            f"{len(stack.aside)} messages are still set aside: the next start finishes them",
            err=True,
        )


def serve(
    data_dir: Path = typer.Option(None, help=DATA_DIR_HELP),
    port: int = typer.Option(None, min=1, max=65535, help="HTTP port (default 8000)"),
    preset: str = typer.Option(None, help=PRESET_HELP),
) -> None:
    """Serve search + UI over the embedded catalog already in the data dir (no ingest)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(_demo(_settings(data_dir, port, preset), [], 0, True, ingest=False))


async def _demo(
    settings: Settings, folders: list[Path], products: int, serve_after: bool, ingest: bool = True
) -> None:
    from catalens.embedded.bootstrap import open_stack
    from catalens.embedded.catalog import EmbeddedCatalog
    from catalens.embedded.ingest import ingest_files
    from catalens.embedded.model_setup import ensure_aligned_model
    from catalens.embedded.repair import finish_incomplete
    from catalens.embedded.samples import default_samples, flatten, folder_samples
    from catalens.embedded.serve import serve as serve_catalog

    if not serve_after:  # `kill` cancels the run: the stack's cleanup stops its Postgres
        main = asyncio.current_task()
        assert main is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    settings.embedder.model = str(await asyncio.to_thread(ensure_aligned_model, settings))
    sets = folder_samples(folders) if folders else default_samples(products)
    items = list(flatten(sets)) if ingest else []
    if ingest and not items:
        raise typer.BadParameter("no images found: name a folder of images")
    async with open_stack(settings) as stack:
        # a new model, or a crash: captions and vectors from the stored crops, no re-detection
        await finish_incomplete(stack)
        catalog = EmbeddedCatalog(stack)
        url = f"http://{settings.query.host}:{settings.query.port}"

        async def run_ingest() -> None:
            stats = await ingest_files(catalog, items)
            typer.echo(
                f"ingested {stats.new} new images ({stats.objects} objects), "
                f"{stats.duplicate} already there, {stats.rejected} rejected"
                + (f", {stats.aside} set aside to finish later" if stats.aside else ""),
                err=True,
            )

        if not serve_after:
            await run_ingest()
            await finish_aside(stack)
            return
        typer.echo(f"serving search + UI on {url} (Ctrl+C to stop)", err=True)
        await serve_catalog(catalog, settings.query, run_ingest() if items else None)
