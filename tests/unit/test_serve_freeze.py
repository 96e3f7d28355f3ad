"""The served process freezes what start-up built, so full collections skip it."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from sitescim.cli import serve


def test_the_served_app_leaves_start_up_objects_frozen() -> None:
    application = FastAPI()
    before = gc.get_freeze_count()
    try:
        assert serve._frozen(application) is application
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
