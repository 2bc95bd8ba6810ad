"""`python -m infra up|down|status|install`: the same commands as `catalens infra`."""

import sys

import typer

from infra.cli import register

app = typer.Typer(no_args_is_help=True)
register(app)

if __name__ == "__main__":
    app(["infra", *sys.argv[1:]])
