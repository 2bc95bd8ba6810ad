"""`catalens schemas export|check`: JSON Schema files and docs/schemas.md from the contracts."""

from __future__ import annotations

from pathlib import Path

import typer

from core.paths import REPO_ROOT

DEFAULT_JSON_DIR = REPO_ROOT / "schemas" / "json"
DEFAULT_DOCS = REPO_ROOT / "docs" / "schemas.md"


def export(
    out: Path = typer.Option(DEFAULT_JSON_DIR, "--out", help="folder for the .json files"),
    docs: Path = typer.Option(DEFAULT_DOCS, "--docs", help="Markdown page to generate"),
) -> None:
    """Write one JSON Schema per message type and the Markdown page generated from them."""
    from schemas.export import write_json, write_markdown

    for path in [*write_json(out), write_markdown(docs)]:
        typer.echo(str(path))


def check(
    out: Path = typer.Option(DEFAULT_JSON_DIR, "--out", help="folder of the .json files"),
    docs: Path = typer.Option(DEFAULT_DOCS, "--docs", help="generated Markdown page"),
) -> None:
    """Exit 1 when the committed schema files differ from a fresh export."""
    from schemas.export import stale_files

    stale = stale_files(out, docs)
    for path in stale:
        typer.echo(f"stale: {path}", err=True)
    if stale:
        typer.echo("run `catalens schemas export` and commit the result", err=True)
        raise typer.Exit(1)
    typer.echo("schemas up to date")


def register(app: typer.Typer) -> None:
    schemas_app = typer.Typer(
        help="Message contracts: JSON Schema export and drift check.", no_args_is_help=True
    )
    schemas_app.command("export")(export)
    schemas_app.command("check")(check)
    app.add_typer(schemas_app, name="schemas")
