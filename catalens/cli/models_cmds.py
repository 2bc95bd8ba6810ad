"""Register the model commands: detect, embed, caption, train, evaluate, promote, ..."""

from __future__ import annotations

import importlib

import typer

# each module defines `register(app: typer.Typer) -> None`; a module that is not written yet
# is skipped so the CLI always starts.
_MODULES = (
    "detect_cmd",
    "embed_cmd",
    "caption_cmd",
    "train_cmd",
    "schemas_cmd",
    "embedded_cmd",
    "infra_cmd",
    "run_cmd",
    "data_cmd",
    "index_cmd",
    "dlq_cmd",
    "mlops_cmd",
)


def register(app: typer.Typer) -> None:
    for name in _MODULES:
        try:
            module = importlib.import_module(f"catalens.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"catalens.cli.{name}":
                continue
            raise
        module.register(app)
