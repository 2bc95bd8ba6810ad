"""Crash rounds of `catalens demo <folder> --no-serve`: one round starts the app, waits for a
moment drawn at random (a delay after the start, after the start-up begins to repair, or after
the round's first new image, caption or vector row in the catalog) and kills the app, its
embedded Postgres, or both, with SIGKILL. What each round did and what its start-up found
half-done is kept for the report."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from core.catalog.pg_server import EmbeddedPostgres
from core.paths import REPO_ROOT

DEMO = [sys.executable, "-m", "catalens.cli.main", "demo"]
ROWS = ("images", "captions", "vectors")  # what `progress` counts, in this order
HALF_DONE = re.compile(
    rb"(\d+) (images have objects without captions|objects have no vectors|captions have no vector)"
)
APP_GIVES_UP_S = 60.0  # after its Postgres dies the app gives up on retries and exits


@dataclass
class Round:
    number: int
    victim: str  # "app", "postgres" or "both"
    after: str  # one of MOMENTS
    delay_s: float
    outcome: str = ""
    found: str = ""  # what its start-up found half-done (from the app's warnings)

    def __str__(self) -> str:
        return (
            f"round {self.number}: kill -9 {self.victim} {self.delay_s:.1f}s after {self.after}"
            f" -> {self.outcome}; its start-up found {self.found or 'nothing half-done'}"
        )


MOMENTS = {  # where a round's clock starts: weight, longest delay after it (s)
    "start": (1, 12.0),  # imports, initdb, the server starting, the models loading
    "repair": (1, 4.0),  # the start-up finishing what the last crash left (when it left some)
    "images": (3, 4.0),  # rows stored; captions and vectors being computed (the long stretch)
    "captions": (1, 0.3),  # captions and image vectors landing, caption vectors next
    "vectors": (1, 0.3),
}


def draw_round(rng: random.Random, number: int) -> Round:
    victim = rng.choices(["app", "postgres", "both"], weights=[2, 1, 1])[0]
    after = rng.choices(list(MOMENTS), weights=[w for w, _ in MOMENTS.values()])[0]
    return Round(number, victim, after, rng.uniform(0.0, MOMENTS[after][1]))


async def progress(data_dir: Path) -> tuple[int, ...] | None:
    """(images, captions, vectors) in the app's catalog; None while it cannot be read."""
    server = EmbeddedPostgres(data_dir / "postgres")
    try:
        port = int((server.pgdata / "postmaster.pid").read_text().splitlines()[3])
        conn = await asyncpg.connect(server.dsn(port), timeout=2)
    except Exception:  # no server yet, starting, stopping or killed: a probe, not a check
        return None
    try:
        tables = [r[0] for r in await conn.fetch("SELECT table_name FROM vector_models")]
        vectors = " + ".join(f"(SELECT count(*) FROM {t})" for t in tables) or "0"
        row = await conn.fetchrow(
            f"SELECT (SELECT count(*) FROM images), (SELECT count(*) FROM captions), {vectors}"
        )
        return tuple(row)
    except Exception:  # no schema yet, or the server went away
        return None
    finally:
        with contextlib.suppress(Exception):
            await conn.close()


def postmaster_pid(data_dir: Path) -> int | None:
    """The embedded Postgres server's pid while it runs (its postmaster.pid names it)."""
    try:
        pid = int((data_dir / "postgres" / "data" / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (FileNotFoundError, IndexError, ValueError, ProcessLookupError):
        return None
    return pid


async def reached(plan: Round, app: subprocess.Popen[bytes], data_dir: Path, log: Path) -> bool:
    """Wait for the round's moment; False when the app exited first."""
    while plan.after == "repair" and not HALF_DONE.search(log.read_bytes()):
        if app.poll() is not None:
            return False
        await asyncio.sleep(0.1)
    if plan.after in ROWS:
        column, before = ROWS.index(plan.after), None
        while app.poll() is None:
            now = await progress(data_dir)
            if now is not None and before is None:
                before = now
            elif now is not None and before is not None and now[column] > before[column]:
                break
            await asyncio.sleep(0.2)
    end = time.monotonic() + plan.delay_s
    while app.poll() is None and time.monotonic() < end:
        await asyncio.sleep(0.05)
    return app.poll() is None


async def crash_round(plan: Round, folder: Path, data_dir: Path, logs: Path) -> None:
    """Run the round's app and kill what the plan says when the moment comes."""
    log = logs / f"round-{plan.number}.log"
    with log.open("wb") as err:
        app = subprocess.Popen(
            [*DEMO, str(folder), "--no-serve", "--data-dir", str(data_dir)],
            cwd=REPO_ROOT,
            env={
                **os.environ,
                "PYTHONPATH": str(REPO_ROOT),
                "CATALENS_CAPTIONER__BACKEND": "offline",
            },
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            plan.outcome = await kill(plan, app, data_dir, log)
        finally:
            if app.poll() is None:
                app.kill()
            app.wait()
    found = HALF_DONE.findall(log.read_bytes())
    plan.found = ", ".join(f"{n.decode()} {what.decode()}" for n, what in found)


async def kill(plan: Round, app: subprocess.Popen[bytes], data_dir: Path, log: Path) -> str:
    if not await reached(plan, app, data_dir, log):
        return f"finished first (exit {app.returncode})"
    server = postmaster_pid(data_dir)
    if server is None:
        app.kill()
        return "killed the app (its postgres was not running)"
    if plan.victim != "app":
        os.kill(server, signal.SIGKILL)
    if plan.victim != "postgres":
        app.kill()
        return "killed"
    try:
        code = app.wait(APP_GIVES_UP_S)
    except subprocess.TimeoutExpired:
        return "postgres killed; the app still ran, killed"
    last = (log.read_bytes().strip().splitlines() or [b""])[-1]
    return f"postgres killed; the app exited {code}: {last[-120:]!r}"
