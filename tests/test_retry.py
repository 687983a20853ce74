"""``Outage``: a store that is down is waited for, with back-off and an alert; a refusal is not."""

from __future__ import annotations

import logging

import pytest

from dataflows.stores.retry import Outage


class DownError(Exception):
    pass


class RefusedError(Exception):
    pass


def test_waits_through_transient_failures_then_returns_the_result(caplog):
    calls, retried = [], []

    def op() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise DownError("connection refused")
        return "written"

    outage = Outage("store-1", lambda e: isinstance(e, DownError), logging.getLogger("t"), 0.2, 0.0)
    with caplog.at_level(logging.WARNING, "t"):
        assert outage.call(op, on_retry=lambda: retried.append(1)) == "written"
    assert len(calls) == 3 and len(retried) == 2 and outage.retries == 2
    assert outage.retry_count._value.get() == 2  # flowsense_store_retries_total{store}
    assert outage.down_gauge._value.get() == 0  # answering again
    assert outage.alerts == 1  # alert_after_s 0: the first failure already alerts, once
    assert sum("ALERT store-1 down" in r.message for r in caplog.records) == 1
    assert any("reachable again" in r.message for r in caplog.records)


def test_a_refusal_is_raised_at_once():
    calls = []

    def op() -> None:
        calls.append(1)
        raise RefusedError("bad column")

    outage = Outage("store", lambda e: isinstance(e, DownError), logging.getLogger("t"))
    with pytest.raises(RefusedError):
        outage.call(op)
    assert calls == [1] and outage.retries == 0
