"""`catalens reconcile`: emit the bucket events MinIO never sent (the real stack)."""

from __future__ import annotations

import typer


def reconcile(
    once: bool = typer.Option(False, "--once", help="One pass over the bucket, then exit."),
    every: float | None = typer.Option(
        None, "--every", help="Seconds between passes (default: minio.reconcile_every_s)."
    ),
    grace: float | None = typer.Option(
        None,
        "--grace",
        help="Leave objects younger than this many seconds to their own bucket event "
        "(default: minio.reconcile_grace_s).",
    ),
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", help="Serve /metrics here while looping (0: off; default 9105)."
    ),
) -> None:
    """List the bucket (CATALENS_MINIO__BUCKET), ask the catalog (CATALENS_POSTGRES__DSN)
    which of the listed versions it holds, and publish an ImageUploaded to the images topic
    (CATALENS_MINIO__TOPIC) for each version it lacks that is older than the grace period:
    the same event, id and partition key as MinIO's own bucket event.

    MinIO runs without a notification queue dir by default, so it sends each event at once
    but drops the events of a Kafka outage; this command fills them in. A version sent twice
    changes nothing downstream. Without --once it runs a pass every --every seconds until
    interrupted; a failed pass (Kafka or Postgres away) is logged and retried next time."""
    import asyncio
    import contextlib
    import logging

    from core.settings import Settings
    from core.streaming.metrics import metrics_port as port_of
    from core.streaming.metrics import serve_registry
    from core.streaming.reconcile import ReconcileMetrics, reconcile_forever, reconcile_once
    from core.streaming.reconcile_io import open_reconciler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings()
    grace_s = settings.minio.reconcile_grace_s if grace is None else grace
    every_s = settings.minio.reconcile_every_s if every is None else every
    metrics = ReconcileMetrics()

    async def go() -> None:
        async with open_reconciler(settings) as ports:
            if once:
                tally = await reconcile_once(ports, grace_s, metrics)
                typer.echo(
                    f"listed {tally.listed}, in the catalog {tally.known}, "
                    f"younger than {grace_s:g} s {tally.young}, emitted {tally.emitted}"
                )
                return
            configured = settings.streaming.metrics_port if metrics_port is None else metrics_port
            port = port_of("reconciler", configured)
            host = settings.streaming.metrics_host
            server = serve_registry(metrics.registry, "reconciler", host, port) if port else None
            try:
                await reconcile_forever(ports, every_s, grace_s, metrics)
            finally:
                if server is not None:
                    server.shutdown()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(go())


def register(app: typer.Typer) -> None:
    app.command("reconcile")(reconcile)
