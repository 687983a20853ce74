"""Prometheus metrics of the dataflow workers, for the alert rules of ``deploy/prometheus``.

They live in prometheus_client's default registry because that is the one
Bytewax serves: with ``BYTEWAX_DATAFLOW_API_ENABLED=true`` a worker process
answers ``GET :3030/metrics`` with Bytewax's own metrics followed by this
registry's (``bytewax._metrics``). Each is set once per batch, never per tick.

- ``flowsense_sink_buffer_ratio{topic}``: messages waiting in a Kafka sink's
  local librdkafka queue over the queue's capacity (1 = the worker blocks).
- ``flowsense_source_lag_messages{topic,partition}``: messages of an input
  partition not read yet (its high watermark minus the next offset), sampled
  at most every ``LAG_EVERY_S`` seconds.
- ``flowsense_store_down_seconds{store}`` and ``flowsense_store_retries_total{store}``:
  how long a sink has been waiting for its server (0 when it answers) and how many
  times it retried (``dataflows.stores.retry``).
- ``flowsense_feature_drift{feature,statistic,symbol}``: ``psi`` (population
  stability index) and ``ks`` (Kolmogorov-Smirnov statistic) of each feature
  and of the prediction between the training reference and the live window
  (``dataflows.drift``).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

LAG_EVERY_S = 5.0

sink_buffer_ratio = Gauge(
    "flowsense_sink_buffer_ratio",
    "Kafka sink: queued messages over the local queue's capacity",
    ["topic"],
)
source_lag = Gauge(
    "flowsense_source_lag_messages",
    "Kafka source: messages of the partition not read yet",
    ["topic", "partition"],
)
feature_drift = Gauge(
    "flowsense_feature_drift",
    "Drift of a feature (or the prediction) between the training reference and the live window",
    ["feature", "statistic", "symbol"],
)
store_down = Gauge(
    "flowsense_store_down_seconds",
    "A sink waiting for its server: seconds since it stopped answering (0: it answers)",
    ["store"],
)
store_retries = Counter(
    "flowsense_store_retries",
    "Writes retried because the server did not answer",
    ["store"],
)
