"""`python -m infra up|down|status|install`: the same commands as `catalens infra`."""

import sys

import typer

from catalens.cli.infra_cmd import register

app = typer.Typer(no_args_is_help=True)
register(app)

if __name__ == "__main__":
    app(["infra", *sys.argv[1:]])
