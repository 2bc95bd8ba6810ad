"""`catalens run detector|captioner|embedder|indexer|query`: one service on Kafka until SIGTERM.

Settings from the environment: `CATALENS_KAFKA__BOOTSTRAP_SERVERS`, `CATALENS_MINIO__*`,
`CATALENS_POSTGRES__DSN`, `CATALENS_STREAMING__*` (batches, retries, metrics port)."""

from __future__ import annotations

from collections.abc import Callable

import typer

SERVICE_HELP = "detector, captioner, embedder, indexer or query"


def run(
    service: str = typer.Argument(..., help=SERVICE_HELP),
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", help="serve /metrics here (0: off; default 9101-9104)"
    ),
) -> None:
    """Run one service on the real stack. Pipeline services consume their topics, publish
    downstream and commit when the effect is durable; `query` serves search + UI over Postgres
    and its own FAISS replica fed by objects.embedded (CATALENS_QUERY__PORT)."""
    from core.settings import Settings
    from core.streaming.service import Service, run_service
    from services.captioner.app import create_app as captioner
    from services.detector.app import create_app as detector
    from services.embedder.app import create_app as embedder
    from services.indexer.app import create_app as indexer
    from services.query.serve_streaming import main as serve_query

    if service == "query":
        serve_query(Settings())
        return
    apps: dict[str, Callable[[Settings], Service]] = {
        "detector": detector,
        "captioner": captioner,
        "embedder": embedder,
        "indexer": indexer,
    }
    if service not in apps:
        typer.echo(f"error: unknown service {service!r}; choose {SERVICE_HELP}", err=True)
        raise typer.Exit(2)
    settings = Settings()
    if metrics_port is not None:
        settings.streaming.metrics_port = metrics_port
    raise typer.Exit(run_service(service, apps[service], settings))


def register(app: typer.Typer) -> None:
    app.command("run")(run)
