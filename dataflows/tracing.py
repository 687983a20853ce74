"""OpenTelemetry spans for the trading steps: one trace from a batch of ticks to its
features, predictions, decisions and the orders and fills they caused.

Off (no tracer: no ``FLOWSENSE_TRACING__OTLP_ENDPOINT``), ``trading_steps`` uses
its plain functions and there is no per-batch work at all. On, the batch is
wrapped in a ``Traced`` item at the start: the trace context travels *in the
flow* as a W3C ``traceparent`` carrier (a small dict, picklable between
workers and processes), each step opens a span under the previous step's and
hands its own context on, and the ``account`` step puts a span for every
order, denial, cancellation and fill under the ``decide`` span of the batch
whose prediction caused it (found by the ``seq`` in the order's id). Spans are
per batch, not per tick: a tick is in exactly one batch, whose span carries
the batch's ``seq`` range.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bytewax.operators import StatefulLogic
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
RECENT_SLICES = 256
"""Slices per symbol whose context the account step remembers (orders wait in event time)."""


@dataclass(frozen=True, slots=True)
class Traced:
    """A stream item and the ``traceparent`` carrier of the span that made it."""

    carrier: dict[str, str]
    value: Any


def _seq_range(value: Any) -> tuple[int, int, int] | None:
    """(first seq, last seq, rows) of a batch-like value, if it has a ``seq`` column."""
    if hasattr(value, "rejects") and hasattr(value, "ticks"):  # Checked, SourceBatch
        value = value.ticks
    seq = getattr(value, "seq", None)
    if seq is None:
        cols = getattr(value, "columns", None)
        seq = cols.get("seq") if isinstance(cols, dict) else None
    if seq is None or len(seq) == 0:
        return None
    return int(seq[0]), int(seq[-1]), len(seq)


def _annotate(span: Any, symbol: str | None, value: Any) -> None:
    if symbol is not None:
        span.set_attribute("flowsense.symbol", symbol)
    r = _seq_range(value)
    if r is not None:
        span.set_attribute("flowsense.seq_first", r[0])
        span.set_attribute("flowsense.seq_last", r[1])
        span.set_attribute("flowsense.rows", r[2])


def _carrier_of(span: Any) -> dict[str, str]:
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier


class StepTracing:
    """Wraps the trading steps' functions so that they carry ``Traced`` items."""

    def __init__(self, tracer: Any) -> None:
        self.tracer = tracer

    def start(self, name: str) -> Callable[[Any], Traced]:
        """A ``map`` mapper over ``(symbol, batch)``: a root span per batch."""

        def begin(item: tuple[str, Any]) -> tuple[str, Traced]:
            symbol, batch = item
            span = self.tracer.start_span(name, kind=trace.SpanKind.CONSUMER)
            _annotate(span, symbol, getattr(batch, "ticks", None))
            span.end()
            return symbol, Traced(_carrier_of(span), batch)

        return begin

    def stateful(self, name: str, fn: Callable[[Any, Any], tuple[Any, Any]]) -> Callable:
        """A ``stateful_map`` mapper: ``fn`` inside a span under the item's context."""

        def step(state: Any, item: Traced) -> tuple[Any, Traced]:
            parent = _PROPAGATOR.extract(item.carrier)
            span = self.tracer.start_span(name, context=parent)
            try:
                state, out = fn(state, item.value)
                _annotate(span, None, out[0] if isinstance(out, tuple) else out)
            finally:
                span.end()
            return state, Traced(_carrier_of(span), out)

        return step

    @staticmethod
    def keep(fn: Callable[[Any], Any]) -> Callable[[Traced], Traced | None]:
        """A ``filter_map_value``/``map_value`` mapper that keeps the item's context."""

        def f(item: Traced) -> Traced | None:
            out = fn(item.value)
            return None if out is None else Traced(item.carrier, out)

        return f

    @staticmethod
    def drop(fn: Callable[[Any], Any] = lambda v: v) -> Callable[[Traced], Any]:
        """A mapper that leaves the trace: plain values for sinks and other steps."""
        return lambda item: fn(item.value)

    def account(self, inner: Any) -> Any:
        """The account step's logic, taking ``Traced`` slices (``RiskReset``s come plain)."""
        return _TracedAccount(inner, self.tracer)


class _TracedAccount(StatefulLogic):
    """Delegates to the account logic; spans for the step and for each record it makes."""

    def __init__(self, inner: Any, tracer: Any) -> None:
        self.inner, self.tracer = inner, tracer
        self.recent: dict[str, deque[tuple[int, int, Any]]] = {}  # seq range, decide context

    def _context_of(self, symbol: str, client_order_id: str) -> Any:
        try:
            seq = int(client_order_id.rsplit("-", 1)[1])
        except (IndexError, ValueError):
            return None
        for lo, hi, ctx in reversed(self.recent.get(symbol, ())):
            if lo <= seq <= hi:
                return ctx
        return None

    def _records(self, out: list[list], fallback: Any) -> None:
        for records in out:
            for r in records:
                oid = getattr(r, "client_order_id", None)
                if oid is None:
                    continue
                parent = self._context_of(r.symbol, oid) or fallback
                span = self.tracer.start_span(type(r).__name__, context=parent)
                span.set_attribute("flowsense.symbol", r.symbol)
                span.set_attribute("flowsense.client_order_id", oid)
                span.end()

    def on_item(self, value: Any) -> tuple[list[list], bool]:
        if not isinstance(value, Traced):  # a RiskReset
            out = self.inner.on_item(value)
            self._records(out[0], otel_context.get_current())
            return out
        s = value.value
        r = _seq_range(s)
        parent = _PROPAGATOR.extract(value.carrier)  # once per slice, kept for its orders
        if r is not None:
            self.recent.setdefault(s.symbol, deque(maxlen=RECENT_SLICES)).append(
                (r[0], r[1], parent)
            )
        span = self.tracer.start_span("account", context=parent)
        try:
            out = self.inner.on_item(s)
        finally:
            span.end()
        self._records(out[0], trace.set_span_in_context(span))
        return out

    def on_eof(self) -> tuple[list[list], bool]:
        out = self.inner.on_eof()
        self._records(out[0], otel_context.get_current())
        return out

    def on_notify(self) -> tuple[list[list], bool]:
        return self.inner.on_notify()

    def notify_at(self) -> Any:
        return self.inner.notify_at()

    def snapshot(self) -> Any:
        return self.inner.snapshot()
