"""OpenTelemetry tracer providers: OTLP/HTTP export when an endpoint is set, else none.

Shared by the API (``serving.telemetry``) and the dataflows (``dataflows.tracing``);
the SDK is imported only when tracing is on.
"""

from __future__ import annotations

from typing import Any


def tracer_provider(endpoint: str | None, service: str) -> Any:
    """A ``TracerProvider`` exporting in batches (an SDK thread) over OTLP/HTTP to
    ``endpoint``; ``None`` when no endpoint is set. ``shutdown()`` sends what is left."""
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def dataflow_tracer(endpoint: str | None, service: str = "flowsense-dataflow") -> Any:
    """The dataflows' tracer when an OTLP endpoint is set, else ``None`` (no tracing)."""
    provider = tracer_provider(endpoint, service)
    return None if provider is None else provider.get_tracer("flowsense.dataflow")
