"""``sitescim worker``: webhook delivery and the periodic jobs, without serving HTTP."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer

from sitescim.cli.app import app, load_settings
from sitescim.db.engine import Database, make_engine
from sitescim.services.runtime import Runtime
from sitescim.services.worker import Worker


@app.command("worker")
def worker() -> None:
    """Run webhook delivery and notices until SIGTERM or Ctrl-C (``serve`` runs them too,
    unless SITESCIM_WORKER=false). Start as many as you like on PostgreSQL: they share."""
    from sitescim.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, log_format=settings.log_format)
    database = Database(make_engine(settings.database_url))
    running = Worker.from_settings(Runtime.from_settings(settings, database), settings)
    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    running.start()
    typer.echo("sitescim worker running", err=True)
    try:
        stopping.wait()
    finally:
        running.stop()
        database.dispose()
