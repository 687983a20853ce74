"""Prometheus alert rules and the Grafana dashboard (``deploy/``), with the real promtool.

``promtool test rules`` runs ``deploy/prometheus/alerts_test.yml``: among its
cases, ``HighDrawdown`` is silent at 15 % until 5 minutes have passed and fires
at 5 minutes, and never fires just under 15 %. A copy of the rules with a
shorter ``for`` must fail those cases (the tests can fail). Every metric a rule
or a panel reads is one that FlowSense really exports.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import prometheus_client
import pytest
import yaml

from dataflows import metrics as dataflow_metrics  # noqa: F401  (registers its gauges)
from flowsense.services.prometheus import ensure_prometheus
from serving.metrics import Metrics

ROOT = Path(__file__).resolve().parents[1]
PROM = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "flowsense.json"


@pytest.fixture(scope="module")
def promtool() -> Path:
    return ensure_prometheus()[1]


def run(promtool: Path, *args: str, cwd: Path = PROM) -> subprocess.CompletedProcess:
    return subprocess.run([str(promtool), *args], cwd=cwd, capture_output=True, text=True)


def test_rules_and_config_pass_promtool_check(promtool):
    out = run(promtool, "check", "rules", "alerts.yml")
    assert out.returncode == 0 and "6 rules found" in out.stdout, out.stdout + out.stderr
    out = run(promtool, "check", "config", "prometheus.yml")
    assert out.returncode == 0, out.stdout + out.stderr


def test_rule_unit_tests_pass(promtool):
    out = run(promtool, "test", "rules", "alerts_test.yml")
    assert out.returncode == 0, out.stdout + out.stderr


def test_high_drawdown_is_the_seeds_rule():
    rules = {
        r["alert"]: r
        for g in yaml.safe_load((PROM / "alerts.yml").read_text())["groups"]
        for r in g["rules"]
    }
    assert set(rules) == {
        "HighDrawdown",
        "KafkaConsumerLagHigh",
        "PredictionLatencyP99High",
        "ModelAccuracyFalling",
        "FeatureDrift",
        "SinkBufferFilling",
    }
    hd = rules["HighDrawdown"]
    assert hd["for"] == "5m" and hd["labels"]["severity"] == "critical"


@pytest.mark.parametrize("change", [("for: 5m", "for: 4m"), (">= 0.15", ">= 0.16")])
def test_a_wrong_high_drawdown_rule_fails_the_unit_tests(promtool, tmp_path, change):
    """Fires a minute early, or not at 15 %: the promtool cases catch both."""
    text = (PROM / "alerts.yml").read_text()
    assert change[0] in text
    (tmp_path / "alerts.yml").write_text(text.replace(change[0], change[1], 1))
    (tmp_path / "alerts_test.yml").write_text((PROM / "alerts_test.yml").read_text())
    out = run(promtool, "test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert out.returncode != 0 and "alertname: HighDrawdown" in out.stdout + out.stderr


def exported_metric_names() -> set[str]:
    """Names of the samples FlowSense can export: the API's registry and the workers'."""
    names: set[str] = set()
    for registry in (Metrics().registry, prometheus_client.REGISTRY):
        for family in registry.collect():
            if not family.name.startswith("flowsense_"):
                continue
            base = family.name
            names |= {base, f"{base}_total", f"{base}_bucket", f"{base}_sum", f"{base}_count"}
    return names


METRIC = re.compile(r"\bflowsense_[a-z_]+\b")


def test_every_rule_and_panel_reads_metrics_we_export():
    exported = exported_metric_names()
    rules = (PROM / "alerts.yml").read_text()
    exprs = [r["expr"] for g in yaml.safe_load(rules)["groups"] for r in g["rules"]]
    dash = json.loads(DASHBOARD.read_text())
    exprs += [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in METRIC.findall(e)}
    assert used and used <= exported, sorted(used - exported)
    # The seed's metrics are all on the dashboard.
    for seed in (
        "flowsense_prediction_latency_ms",
        "flowsense_trade_pnl_dollars",
        "flowsense_model_accuracy_percent",
        "flowsense_kafka_lag_messages",
    ):
        assert any(m.startswith(seed) for m in used), seed


def test_dashboard_is_grafana_provisioning_json():
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 30
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    ds = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    uid = ds["datasources"][0]["uid"]
    for p in dash["panels"]:
        assert p["datasource"]["uid"] == uid
        for t in p["targets"]:
            assert t["datasource"]["uid"] == uid and t["expr"]
