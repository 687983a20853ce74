"""Waiting out a store that is down: retry with back-off, never drop, say so loudly.

A sink whose server is restarting or unreachable blocks the step that feeds it
and retries (0.1 s doubling up to ``max_wait_s``), logging each failure; after
``alert_after_s`` it logs a CRITICAL line once (the operator's alert). While it
waits, the flow's input stays in Kafka (the source reads no further): the
buffer is the topic itself, bounded by its retention, and nothing is dropped.
Errors that are not about reaching the server (a refused write) are raised at
once. Hand-written: a dozen lines, where a retry library would add a
dependency and hide the state the alert needs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from dataflows import metrics

T = TypeVar("T")


class Outage:
    """Back-off state of one sink, and its counters (for logs and tests)."""

    def __init__(
        self,
        name: str,
        transient: Callable[[BaseException], bool],
        log: logging.Logger,
        max_wait_s: float = 5.0,
        alert_after_s: float = 30.0,
    ) -> None:
        self.name = name
        self.transient = transient
        self.log = log
        self.max_wait_s = max_wait_s
        self.alert_after_s = alert_after_s
        self.retries = 0
        self.alerts = 0
        self.down_gauge = metrics.store_down.labels(name)
        self.retry_count = metrics.store_retries.labels(name)

    def call(self, op: Callable[[], T], on_retry: Callable[[], None] = lambda: None) -> T:
        """``op()``; while it fails with a transient error, ``on_retry()`` and again."""
        wait, since, alerted = 0.1, None, False
        while True:
            try:
                result = op()
            except Exception as e:
                if not self.transient(e):
                    raise
                since = since or time.monotonic()
                down = time.monotonic() - since
                self.retries += 1
                self.retry_count.inc()
                self.down_gauge.set(down)
                self.log.warning(
                    "%s unreachable for %.1f s (%s: %s); retrying in %.1f s, nothing dropped",
                    self.name, down, type(e).__name__, str(e).splitlines()[0][:200], wait,
                )  # fmt: skip
                if down >= self.alert_after_s and not alerted:
                    alerted = True
                    self.alerts += 1
                    self.log.critical(
                        "ALERT %s down for %.0f s: the flow waits for it (input stays in Kafka)",
                        self.name, down,
                    )  # fmt: skip
                time.sleep(wait)
                wait = min(wait * 2, self.max_wait_s)
                on_retry()
                continue
            if since is not None:
                self.down_gauge.set(0)
                self.log.warning(
                    "%s reachable again after %.1f s", self.name, time.monotonic() - since
                )
            return result
