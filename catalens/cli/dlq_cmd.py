"""`catalens dlq list|replay`: what went to the dead-letter topics, and sending it back.

Settings from the environment like the services (`CATALENS_KAFKA__BOOTSTRAP_SERVERS`,
`CATALENS_STREAMING__GROUP_PREFIX`). The embedded default keeps its dead letters in
`<data_dir>/dlq.jsonl` instead (see docs/operations.md)."""

from __future__ import annotations

import asyncio

import typer

from catalens.cli.progress import record_progress

TOPIC_HELP = "pipeline topic whose dead letters to read: images, objects.detected, ..."


def list_reasons(
    topics: list[str] = typer.Argument(None, help=f"{TOPIC_HELP} (default: all of them)"),
) -> None:
    """Count the dead letters of each topic by reason (reads every `<topic>.dlq` from the
    start; nothing is consumed)."""
    from core.settings import Settings
    from core.streaming.dlq_replay import summarize
    from schemas.topics import ALL

    settings = Settings()

    async def go() -> None:
        for topic in topics or ALL:
            try:
                stats = await summarize(settings.kafka.bootstrap_servers, topic)
            except ValueError:
                typer.echo(f"{topic}: no dead-letter topic")
                continue
            reasons = ", ".join(f"{r} {n}" for r, n in stats.by_reason.most_common())
            typer.echo(f"{topic}: {stats.read} dead letters" + (f" ({reasons})" if reasons else ""))

    asyncio.run(go())


def replay(
    topic: str = typer.Argument(..., help=TOPIC_HELP),
    reason: list[str] = typer.Option(
        None, "--reason", help="Replay only these reasons (repeatable); the rest are passed over."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would go; send nothing."),
) -> None:
    """Send the dead letters of TOPIC back to the topic each came from, once: a consumer group
    remembers what was replayed (or passed over). Fix the cause first (a missing crop, a
    captioner outage); a record that fails again is dead-lettered again, with its reason."""
    from core.settings import Settings
    from core.streaming.dlq_replay import replay as run_replay

    settings = Settings()

    async def go() -> int:
        try:
            with record_progress(f"replay {topic}.dlq") as progress:
                stats = await run_replay(
                    settings.kafka.bootstrap_servers,
                    topic,
                    settings.streaming.group_prefix,
                    reason or (),
                    dry_run,
                    progress,
                )
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            return 2
        verb = "would replay" if dry_run else "replayed"
        reasons = ", ".join(f"{r} {n}" for r, n in stats.by_reason.most_common())
        typer.echo(
            f"{verb} {stats.replayed} of {stats.read} dead letters"
            + (f" ({reasons})" if reasons else "")
            + (f"; passed over {stats.passed_over}" if stats.passed_over else "")
        )
        return 0

    raise typer.Exit(asyncio.run(go()))


def register(app: typer.Typer) -> None:
    dlq = typer.Typer(help="Dead letters on the real stack: list and replay.", no_args_is_help=True)
    dlq.command("list")(list_reasons)
    dlq.command("replay")(replay)
    app.add_typer(dlq, name="dlq")
