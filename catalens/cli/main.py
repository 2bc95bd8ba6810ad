"""`catalens` command line. Each command lives in its own module and is registered here.

Command modules import their heavy dependencies (torch, ultralytics, faiss) inside the commands,
so `catalens --help` starts fast."""

from __future__ import annotations

import typer

from catalens.cli import (
    caption_cmd,
    data_cmd,
    detect_cmd,
    dlq_cmd,
    embed_cmd,
    embedded_cmd,
    index_cmd,
    mlops_cmd,
    reconcile_cmd,
    run_cmd,
    schemas_cmd,
    train_cmd,
)
from infra import cli as infra_cmd

app = typer.Typer(
    name="catalens",
    help="Streaming, object-level visual search for live product catalogs.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

for module in (
    detect_cmd,
    embed_cmd,
    caption_cmd,
    train_cmd,
    schemas_cmd,
    embedded_cmd,
    infra_cmd,
    run_cmd,
    reconcile_cmd,
    data_cmd,
    index_cmd,
    dlq_cmd,
    mlops_cmd,
):
    module.register(app)

if __name__ == "__main__":
    app()
