"""`catalens` command line. Each command lives in its own module and is registered here."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="catalens",
    help="Streaming, object-level visual search for live product catalogs.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def _register() -> None:
    from catalens.cli import models_cmds

    models_cmds.register(app)


_register()

if __name__ == "__main__":
    app()
