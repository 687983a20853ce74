"""``/metrics`` of one API process is its own registry, whatever else set the
multiprocess variable (importing ``feast.metrics`` sets ``PROMETHEUS_MULTIPROC_DIR``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from serving.metrics import exposition


def test_one_process_shows_its_own_registry_even_with_the_variable_set(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # empty folder
    registry = CollectorRegistry()
    Counter("flowsense_api_requests", "API requests", ["route"], registry=registry).labels(
        "/api/v1/predictions/{symbol}"
    ).inc(3)
    text = exposition(registry, processes=1).decode()
    assert 'flowsense_api_requests_total{route="/api/v1/predictions/{symbol}"} 3.0' in text
    # several processes: the shared folder (empty here), not this registry
    assert "flowsense_api_requests_total{" not in exposition(registry, processes=2).decode()
