"""The real local servers (``flowsense services up``), shared by every integration test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flowsense.services import down, status, up
from flowsense.settings import Settings


@pytest.fixture(scope="session")
def services() -> Iterator[Settings]:
    """Kafka, QuestDB, PostgreSQL and Redis up and answering; the settings that reach them.

    Servers that were already running before the session are left running at
    its end; those it started are stopped.
    """
    settings = Settings()
    before = status(settings)["services"]
    up(settings)
    yield settings
    started = [name for name, s in before.items() if not s["healthy"]]
    if started:
        down(settings, started)
