"""BackgroundSink: every item written, in order, errors surfaced, the queue bounded."""

from __future__ import annotations

import threading

import pytest
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from dataflows.sinks import BackgroundSink


class _Recorder(StatelessSinkPartition):
    def __init__(self, log: list, gate: threading.Event | None, fail_on: object) -> None:
        self.log, self.gate, self.fail_on = log, gate, fail_on
        self.closed = False

    def write_batch(self, items: list) -> None:
        if self.gate is not None:
            self.gate.wait(5)
        if self.fail_on in items:
            raise ValueError(f"refused {self.fail_on}")
        self.log.extend(items)

    def close(self) -> None:
        self.closed = True


class _Sink(DynamicSink):
    def __init__(self, gate: threading.Event | None = None, fail_on: object = None) -> None:
        self.log: list = []
        self.gate, self.fail_on = gate, fail_on
        self.part: _Recorder | None = None

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Recorder:
        self.part = _Recorder(self.log, self.gate, self.fail_on)
        return self.part


def test_every_item_is_written_in_order_before_close_returns():
    inner = _Sink()
    part = BackgroundSink(inner).build("s", 0, 1)
    for i in range(0, 1000, 10):
        part.write_batch(list(range(i, i + 10)))
    part.close()
    assert inner.log == list(range(1000))
    assert inner.part.closed


def test_an_error_in_the_writer_reaches_the_worker():
    inner = _Sink(fail_on=7)
    part = BackgroundSink(inner).build("questdb_out", 0, 1)
    part.write_batch([1, 2, 7])
    with pytest.raises(RuntimeError, match="questdb_out-w0: refused 7"):
        part.close()


def test_a_slow_store_makes_the_worker_wait_instead_of_queueing_without_bound():
    gate = threading.Event()
    inner = _Sink(gate=gate)
    part = BackgroundSink(inner, max_pending=2).build("s", 0, 1)
    part.write_batch([0])  # taken by the writer, which waits at the gate
    done = threading.Event()

    def producer() -> None:
        for i in range(1, 6):
            part.write_batch([i])
        done.set()

    t = threading.Thread(target=producer)
    t.start()
    assert not done.wait(0.3)  # blocked: the queue holds at most 2 batches
    gate.set()
    t.join(5)
    part.close()
    assert sorted(inner.log) == list(range(6)) and inner.log[0] == 0
