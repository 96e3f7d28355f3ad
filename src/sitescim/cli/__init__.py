"""The ``sitescim`` command line, for people and (with ``--json``) for scripts.

``app`` (cli/app.py) holds the Typer apps and what every command shares; each
family of commands registers itself on it when its module is imported here.
"""

from __future__ import annotations

import sys

from sitescim.cli import (  # noqa: F401  (each registers its commands)
    api_keys,
    database,
    serve,
    sites,
    tokens,
    webhooks,
    worker,
)
from sitescim.cli.app import app
from sitescim.cli.serve import worker_app

__all__ = ["app", "main", "worker_app"]


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
