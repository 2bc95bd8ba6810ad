"""`catalens infra install|up|down|status`: the real stack (Kafka, MinIO, Postgres, MLflow)
on 127.0.0.1 without Docker. Settings: `CATALENS_INFRA__*`, `CATALENS_KAFKA__*`,
`CATALENS_MINIO__*`, `CATALENS_MLFLOW__*`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from core.settings import Settings
    from infra.server import ServerStatus

ONLY_HELP = "comma-separated subset of kafka,minio,postgres,mlflow (default: all)"


def _only(value: str | None) -> list[str] | None:
    return [name.strip() for name in value.split(",") if name.strip()] if value else None


def _setup() -> Settings:
    from core.settings import Settings

    logging.basicConfig(level=logging.INFO, format="[infra] %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return Settings()


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


def install(only: str | None = typer.Option(None, "--only", help=ONLY_HELP)) -> None:
    """Download Kafka's jars and build MinIO into the cache (first run only; minutes)."""
    import infra
    from infra.procs import InfraError

    try:
        infra.install(_setup(), _only(only))
    except InfraError as exc:
        raise _fail(exc) from None


def up(only: str | None = typer.Option(None, "--only", help=ONLY_HELP)) -> None:
    """Install what is missing, start what is not running, wait until each answers."""
    import infra
    from infra.procs import InfraError

    settings = _setup()
    try:
        infra.up(settings, _only(only))
    except InfraError as exc:
        raise _fail(exc) from None
    _print_status(settings, _only(only))


def down(
    only: str | None = typer.Option(None, "--only", help=ONLY_HELP),
    force: bool = typer.Option(False, "--force", help="even while test sessions hold the stack"),
) -> None:
    """Stop the servers `up` started (others on the same ports are left alone)."""
    import infra
    from infra.shared import holders

    settings = _setup()
    busy = holders(settings)
    if busy and not force:
        typer.echo(f"in use by test session(s) {busy}: not stopped (--force to stop)", err=True)
        raise typer.Exit(1)
    stopped = infra.down(settings, _only(only))
    typer.echo(f"stopped: {', '.join(stopped) or 'nothing'}")


def wire() -> None:
    """Create the images topic and the bucket, its put/delete events sent to Kafka."""
    from infra.stack import wire_bucket_events

    wire_bucket_events(_setup())
    typer.echo("bucket events wired")


def status(only: str | None = typer.Option(None, "--only", help=ONLY_HELP)) -> None:
    """A table of service, pid, endpoint, healthy. Exit 1 when any is not healthy."""
    rows = _print_status(_setup(), _only(only))
    if not all(row.healthy for row in rows):
        raise typer.Exit(1)


def _print_status(settings: Settings, only: list[str] | None) -> list[ServerStatus]:
    from rich.console import Console
    from rich.table import Table

    import infra

    rows = infra.status(settings, only)
    table = Table("service", "pid", "endpoint", "healthy")
    for row in rows:
        pid = str(row.pid) if row.pid else ("external" if row.healthy else "-")
        table.add_row(row.name, pid, row.endpoint, "yes" if row.healthy else "no")
    Console().print(table)
    return rows


def register(app: typer.Typer) -> None:
    infra_app = typer.Typer(
        help="The real stack on this machine: Kafka, MinIO, Postgres+pgvector, MLflow.",
        no_args_is_help=True,
    )
    for command in (install, up, down, status, wire):
        infra_app.command(command.__name__)(command)
    app.add_typer(infra_app, name="infra")
